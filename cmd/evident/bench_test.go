package main

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/evident-ebm/evident/internal/bench"
)

// TestQuickBenchReportsEveryFigure runs `evident bench --quick` and checks
// that the suite runs and reports every figure; timings are not asserted
// (they live in BENCHMARKS.md).
func TestQuickBenchReportsEveryFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick benchmark takes about a minute")
	}
	needClickHouse(t)
	bin := buildEvident(t)
	out, err := exec.Command(bin, "bench", "--quick", "--json").Output()
	if err != nil {
		t.Fatalf("evident bench --quick: %v", err)
	}
	var rep bench.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.Quick || rep.ClickHouse == "" || rep.Machine == "" {
		t.Errorf("header: %+v", rep)
	}
	if len(rep.Sync) != 1 || rep.Sync[0].IssuesPerSec <= 0 || rep.Sync[0].RequestsPer1k <= 0 || rep.Sync[0].PeakRSSMiB <= 0 ||
		rep.Sync[0].ReadModelSeconds <= 0 || rep.Sync[0].FetchIssuesPerSec <= rep.Sync[0].IssuesPerSec {
		t.Errorf("sync: %+v", rep.Sync)
	}
	if rep.Load.Issues != 100000 || rep.Load.Transitions < 500000 || rep.Load.RowsPerSec <= 0 {
		t.Errorf("load: %+v", rep.Load)
	}
	if len(rep.API) < 15 || len(rep.Pages) < 7 || len(rep.APICached) != len(rep.API) || len(rep.PagesCached) != len(rep.Pages) {
		t.Errorf("%d endpoints, %d pages measured; cached: %d and %d", len(rep.API), len(rep.Pages), len(rep.APICached), len(rep.PagesCached))
	}
	if rep.Load.ReadModelSeconds <= 0 {
		t.Errorf("read model build not measured: %+v", rep.Load)
	}
	lt := rep.LoadTest
	// Requests in 10 s depend on the machine and on what runs beside it
	// (other packages' tests): only that the load test ran is asserted.
	if lt.Clients != 10 || lt.Requests < 20 || lt.Errors != 0 || lt.P99ms < lt.P95ms || lt.RSSPeakMiB <= 0 || lt.RSSEndMiB <= 0 || len(lt.RSSSamplesMiB) == 0 {
		t.Errorf("load test: %+v", lt)
	}
	for _, l := range append(append(rep.API, rep.Pages...), append(rep.APICached, rep.PagesCached...)...) {
		if l.Requests == 0 || l.Errors != 0 || l.P50ms <= 0 || l.P95ms < l.P50ms || l.P99ms < l.P95ms {
			t.Errorf("latency of %s: %+v", l.Path, l)
		}
	}
	if r := rep.Raw; r.RawP50 <= 0 || r.APIp50 <= 0 || r.Ratio <= 0 {
		t.Errorf("flow vs raw ClickHouse: %+v", r)
	}
	if l := rep.Live; l.Issues < 100000 || len(l.WebhookToVisibleMs) != 5 || l.WebhookToVisibleMs[0] <= 0 || len(l.InUseMs) != 5 || l.InUseMs[0] <= 0 || l.Views != 22 || l.Computed < l.Views-1 || l.Changed != 1000 || l.ChangedSyncSeconds <= 0 || l.SyncVersions < 1 || l.Kept < 0 || l.Recomputed < 1 {
		t.Errorf("live: %+v", l)
	}
	if r := rep.Refresh; r.Pieces < 1 || len(r.OneIssueMs) != 5 || r.OneIssueMs[0] <= 0 || r.RecentPieces != 1 || r.SpreadPieces < r.RecentPieces || r.SpreadSeconds <= 0 {
		t.Errorf("read model refresh: %+v", r)
	}
	if rep.ServeRSS <= 0 || rep.Import.RowsPerSec <= 0 || rep.Import.PeakRSSMiB <= 0 {
		t.Errorf("serve RSS %v, import %+v", rep.ServeRSS, rep.Import)
	}
	if len(rep.Compare) != 1 || !rep.Compare[0].SameP85 || rep.Compare[0].Ratio <= 0 {
		t.Errorf("comparison: %+v", rep.Compare)
	}
}
