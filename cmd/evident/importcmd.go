package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/inputs"
)

func (m *Main) runImport(ctx context.Context, args []string) error {
	fs, path := m.flagSet("import", "Import satisfaction responses or value records: evident import satisfaction|value FILE. "+
		"A file with any invalid row is rejected whole; importing the same file again changes nothing")
	format := fs.String("format", "", "csv or json (default: from the file name's extension)")
	if len(args) == 0 || (args[0] != "satisfaction" && args[0] != "value" && !strings.HasPrefix(args[0], "-")) {
		fmt.Fprintln(m.Stderr, "usage: evident import satisfaction|value FILE   (satisfaction columns: "+strings.Join(inputs.SatisfactionColumns, ",")+"; value columns: "+strings.Join(inputs.ValueColumns, ",")+")")
		return errUsage
	}
	kind := args[0]
	if strings.HasPrefix(kind, "-") {
		return parse(fs, args)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // the usage is printed: exit 0
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(m.Stderr, "evident import: name one file")
		return errUsage
	}
	file := fs.Arg(0)
	f := *format
	if f == "" {
		switch strings.ToLower(filepath.Ext(file)) {
		case ".json", ".jsonl", ".ndjson":
			f = "json"
		default:
			f = "csv"
		}
	}
	r, err := os.Open(file)
	if err != nil {
		return evident.Errorf(evident.EINVALID, "%v", err)
	}
	defer r.Close()
	_, st, err := m.openMigrated(ctx, *path)
	if err != nil {
		return err
	}
	defer st.Close()
	in := inputs.New(st, inputs.SaltFromEnv(m.Getenv))
	source := "file:" + filepath.Base(file)
	imp := in.ImportValue
	if kind == "satisfaction" {
		imp = in.ImportSatisfaction
	}
	res, err := imp(ctx, r, f, source)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: %d rows read, %d new, %d already imported\n", file, res.Rows, res.New, res.Unchanged)
	return nil
}
