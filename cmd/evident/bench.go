package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/evident-ebm/evident/internal/bench"
)

func (m *Main) runBench(ctx context.Context, args []string) error {
	fs, _ := m.flagSet("bench", "Run the benchmark suite on this machine: a private ClickHouse, the Jira simulator, and this binary as child processes")
	quick := fs.Bool("quick", false, "small sizes (10k sync, 100k issues loaded): under 3 minutes")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	rep, err := bench.Run(ctx, bench.Options{Binary: bin, Quick: *quick, Log: m.Stderr})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	w := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Evident benchmark, %s, %s, ClickHouse %s\n\n", rep.Date, rep.Machine, rep.ClickHouse)
	fmt.Fprintln(w, "sync\tissues/s\tfetch and store issues/s\trequests per 1,000 issues\tcollector peak RSS (MiB)\tseconds\tof which read model")
	for _, s := range rep.Sync {
		fmt.Fprintf(w, "%d issues\t%.0f\t%.0f\t%.1f\t%.0f\t%.1f\t%.1f\n", s.Issues, s.IssuesPerSec, s.FetchIssuesPerSec, s.RequestsPer1k, s.PeakRSSMiB, s.Seconds, s.ReadModelSeconds)
	}
	fmt.Fprintf(w, "\nload\t%d issues + %d transitions in %.1f s (%.0f rows/s); read model built in %.1f s\n", rep.Load.Issues, rep.Load.Transitions, rep.Load.Seconds, rep.Load.RowsPerSec, rep.Load.ReadModelSeconds)
	for _, part := range []struct {
		title      string
		api, pages []bench.LatencyFigure
	}{{"cache off: every request computed", rep.API, rep.Pages}, {"cache on (default)", rep.APICached, rep.PagesCached}} {
		fmt.Fprintf(w, "\nendpoint, %s\tp50 ms\tp95 ms\tp99 ms\terrors\n", part.title)
		for _, a := range part.api {
			fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%.1f\t%d\n", a.Path, a.P50ms, a.P95ms, a.P99ms, a.Errors)
		}
		fmt.Fprintf(w, "\npage, %s\tTTFB p50 ms\tTTFB p95 ms\t\terrors\n", part.title)
		for _, a := range part.pages {
			fmt.Fprintf(w, "%s\t%.1f\t%.1f\t\t%d\n", a.Path, a.P50ms, a.P95ms, a.Errors)
		}
	}
	if r := rep.Return; r.Views > 0 {
		fmt.Fprintf(w, "\nreturn visit (cache on)\tevery view once %.0f s later, nobody having asked meanwhile: %d of %d from the cache; p50 %.1f ms, slowest %.1f ms\n",
			r.AfterSeconds, r.Hits, r.Views, r.P50ms, r.MaxMs)
	}
	lt := rep.LoadTest
	fmt.Fprintf(w, "\nload test\t%d clients, %.0f s, %d URLs: %d requests (%.0f/s), %d errors; p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		lt.Clients, lt.Seconds, lt.URLs, lt.Requests, lt.PerSecond, lt.Errors, lt.P50ms, lt.P95ms, lt.P99ms, lt.MaxMs)
	fmt.Fprintf(w, "serve RSS during the load test\t%.0f MiB at start, %.0f MiB at the end, %.0f MiB peak; every 5 s: %v\n", lt.RSSStartMiB, lt.RSSEndMiB, lt.RSSPeakMiB, lt.RSSSamplesMiB)
	fmt.Fprintf(w, "\nserve peak RSS\t%.0f MiB\n", rep.ServeRSS)
	fmt.Fprintf(w, "import\t%d rows in %.1f s (%.0f rows/s), peak RSS %.0f MiB\n", rep.Import.Rows, rep.Import.Seconds, rep.Import.RowsPerSec, rep.Import.PeakRSSMiB)
	fmt.Fprintf(w, "flow vs raw ClickHouse\t%s uncached p50 %.1f / p95 %.1f ms; raw queries of its figures p50 %.1f / p95 %.1f ms: %.1fx\n",
		rep.Raw.Path, rep.Raw.APIp50, rep.Raw.APIp95, rep.Raw.RawP50, rep.Raw.RawP95, rep.Raw.Ratio)
	fmt.Fprintf(w, "live (%d issues stored)\twebhook to the change visible %v ms, nobody reading; %v ms with the dashboard's views in use (%d responses kept across those changes, %d recomputed; 30 s after the last change %d of %d views computed); incremental sync of %d changed issues %.1f s all told, the data version changing %d times during it\n",
		rep.Live.Issues, rep.Live.WebhookToVisibleMs, rep.Live.InUseMs, rep.Live.Kept, rep.Live.Recomputed, rep.Live.Computed, rep.Live.Views, rep.Live.Changed, rep.Live.ChangedSyncSeconds, rep.Live.SyncVersions)
	r := rep.Refresh
	fmt.Fprintf(w, "read model refresh (%d issues)\tfull build %.1f s in %d pieces; after one issue written %v ms; 1,000 recent issues %.1f s (%d pieces rebuilt); 1,000 spread %.1f s (%d pieces)\n",
		rep.Load.Issues, r.FullBuildSeconds, r.Pieces, r.OneIssueMs, r.RecentSeconds, r.RecentPieces, r.SpreadSeconds, r.SpreadPieces)
	fmt.Fprintln(w, "\nlead/cycle percentiles\tEvident ms\tload-everything-in-Go ms\tratio\tsame result")
	for _, c := range rep.Compare {
		fmt.Fprintf(w, "%d issues\t%.0f\t%.0f\t%.1fx\t%v\n", c.Issues, c.EvidentMs, c.NaiveMs, c.Ratio, c.SameP85)
	}
	return w.Flush()
}
