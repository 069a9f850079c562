// Command evident collects Jira data into ClickHouse and serves Evident's
// evidence-based management metrics. This package wires the others together
// and nothing else does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main is the program: its output streams and environment, replaceable so
// that end-to-end tests can run it without a shell.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Now is the clock of everything the program dates: the collector's
	// checkpoints, imports' plausibility, the dashboard's "today". The demo
	// replaces it to run on any date (--now).
	Now func() time.Time
}

// NewMain returns a Main on the process's streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

// command is one subcommand of evident.
type command struct {
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

// errUsage reports a usage error already explained on stderr: exit 2.
var errUsage = errors.New("usage")

func commands() map[string]command {
	return map[string]command{
		"migrate": {"create or upgrade the ClickHouse schema", (*Main).runMigrate},
		"serve":   {"serve the dashboard and JSON API (and sync on a schedule)", (*Main).runServe},
		"sync":    {"collect issues, changelogs, boards, sprints and versions from Jira", (*Main).runSync},
		"demo":    {"run Evident on a built-in demo: private ClickHouse, Jira simulator, sync, dashboard", (*Main).runDemo},
		"import":  {"import satisfaction responses or value records from CSV/JSON", (*Main).runImport},
		"bench":   {"run the benchmark suite", (*Main).runBench},
		"jirasim": {"serve the Jira simulator with generated data", (*Main).runJirasim},
		"config":  {"print the effective configuration, secrets hidden", (*Main).runConfig},
	}
}

// Run runs the command line and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if m.Now == nil {
		m.Now = time.Now
	}
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		m.usage(cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(m.Stderr, "evident: unknown command %q\n\n", args[0])
		m.usage(cmds)
		return 2
	}
	err := cmd.run(m, ctx, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(m.Stderr, "evident: interrupted")
		return 130
	default:
		msg := err.Error()
		if code := evident.ErrorCode(err); code != evident.EINTERNAL {
			msg = evident.ErrorMessage(err)
		}
		fmt.Fprintf(m.Stderr, "evident %s: %s\n", args[0], msg)
		return 1
	}
}

func (m *Main) usage(cmds map[string]command) {
	w := m.Stderr
	fmt.Fprintln(w, "Evident: evidence-based management metrics from Jira.")
	fmt.Fprintln(w, "\nUsage: evident COMMAND [flags]   (evident COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nConfiguration: defaults, then the YAML file (--config or ./evident.yaml), then these environment variables:")
	for _, e := range envVars {
		fmt.Fprintf(w, "  %-27s %s\n", e.Name, e.Help)
	}
	fmt.Fprintln(w, "\nThe YAML keys are documented in README.md; an unknown key is an error.")
}

// flagSet returns a flag set for a subcommand whose --help explains it and
// the configuration it reads.
func (m *Main) flagSet(name, summary string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("evident "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	cfg := fs.String("config", "", "path of the YAML configuration file (default $EVIDENT_CONFIG or ./evident.yaml)")
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "Usage: evident %s [flags]\n\n%s.\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
		fmt.Fprintln(m.Stderr, "\nEnvironment (over the YAML file):")
		for _, e := range envVars {
			fmt.Fprintf(m.Stderr, "  %-27s %s\n", e.Name, e.Help)
		}
	}
	return fs, cfg
}

// parse parses a subcommand's flags, mapping flag errors to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

func (m *Main) runConfig(ctx context.Context, args []string) error {
	fs, path := m.flagSet("config", "Print the effective configuration with secrets hidden")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := LoadConfig(*path, m.Getenv)
	if err != nil {
		return err
	}
	r := c.Redacted()
	fmt.Fprintf(m.Stdout, "clickhouse.dsn: %s\n", redactDSN(r.ClickHouse.DSN))
	fmt.Fprintf(m.Stdout, "clickhouse.cluster: %s\nlisten: %s\nsync_interval: %s\n", r.ClickHouse.Cluster, r.Listen, r.SyncInterval)
	for _, s := range r.Sites {
		fmt.Fprintf(m.Stdout, "site %s: url=%s projects=%s auth=%s\n", collector.RedactURL(s.Name), collector.RedactURL(s.URL), strings.Join(s.Projects, ","), authKind(s.PAT, s.APIToken))
	}
	return nil
}

func authKind(pat, token string) string {
	switch {
	case pat != "":
		return "bearer PAT (Data Center)"
	case token != "":
		return "basic e-mail + API token (Cloud)"
	}
	return "none"
}

// redactDSN hides the password of a DSN, in its user info or its query.
func redactDSN(dsn string) string { return collector.RedactURL(dsn) }
