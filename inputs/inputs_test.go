package inputs_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/inputs"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

func TestMain(m *testing.M) { chtest.Main(m) }

const header = "responded_at,scale,score,product,respondent,comment\n"

func TestSatisfactionRejectionsNameLineAndColumn(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"score out of range", header + "2024-01-05,nps,11,EV,a,\n2024-01-05,csat,0,EV,b,\n", []string{"line 2, column score: 11 is out of range for nps (0 to 10)", "line 3, column score: 0 is out of range for csat (1 to 5)"}},
		{"unknown scale", header + "2024-01-05,ces,3,EV,a,\n", []string{"line 2, column scale: unknown scale \"ces\""}},
		{"unparseable date", header + "05/01/2024,nps,9,EV,a,\n", []string{"line 2, column responded_at: \"05/01/2024\" is not a date or time"}},
		{"not a number", header + "2024-01-05,nps,nine,EV,a,\n", []string{"line 2, column score: \"nine\" is not a whole number"}},
		{"empty product", header + "2024-01-05,nps,9,,a,\n", []string{"line 2, column product: empty"}},
		{"duplicate rows", header + "2024-01-05,nps,9,EV,a,great\n2024-01-06,nps,7,EV,a,\n2024-01-05,nps,9,EV,a,great\n", []string{"line 4: duplicate row: the same answer", "as line 2"}},
		{"header mismatch", "when,scale,score,product,respondent,comment\n2024-01-05,nps,9,EV,a,\n", []string{"line 1, column when: unknown column", "line 1, column responded_at: required column missing"}},
		{"missing column", "responded_at,scale,score,product\n2024-01-05,nps,9,EV\n", []string{"column respondent: required column missing", "column comment: required column missing"}},
		{"wrong field count", header + "2024-01-05,nps,9,EV\n", []string{"line 2: 4 fields, the header has 6"}},
		{"empty file", "", []string{"line 1: the file is empty"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := in.ImportSatisfaction(ctx, strings.NewReader(c.file), "csv", "test")
			if err == nil {
				t.Fatal("accepted")
			}
			msg := evident.ErrorMessage(err)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			if n, _ := st.Count(ctx, "satisfaction_responses", ""); n != 0 {
				t.Fatalf("%d rows written by a rejected file", n)
			}
		})
	}
}

func TestAllOrNothingAndTheFirst50Problems(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "2024-01-05,nps,%d,EV,r%d,\n", 99, i) // bad
		} else {
			fmt.Fprintf(&b, "2024-01-05,nps,%d,EV,r%d,\n", i%11, i) // good
		}
	}
	_, err := in.ImportSatisfaction(context.Background(), strings.NewReader(b.String()), "csv", "test")
	if err == nil {
		t.Fatal("accepted")
	}
	msg := evident.ErrorMessage(err)
	if !strings.Contains(msg, "100 problem(s)") || !strings.Contains(msg, "… and 50 more") || strings.Count(msg, "\n  line") != 50 {
		t.Fatalf("message:\n%s", msg)
	}
	if n, _ := st.Count(context.Background(), "satisfaction_responses", ""); n != 0 {
		t.Fatalf("%d good rows written from a rejected file", n)
	}
}

func TestReimportChangesNothingAndScoresAreRight(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	// NPS: 10, 9, 8, 6, 3 → (2 − 2) / 5 = 0; eNPS 9, 9, 2 → (2 − 1)/3 = 33.33; CSAT 5, 4, 3, 1 → 50%, mean 3.25.
	file := header + `2024-01-05T10:00:00Z,nps,10,EV,ann@example.com,"Love it, ""really"""
2024-01-06,nps,9,EV,bob@example.com,
2024-01-07,nps,8,EV,,
2024-01-08,nps,6,EV,,slow
2024-01-09,nps,3,EV,,
2024-01-05,csat,5,EV,,
2024-01-06,csat,4,EV,,
2024-01-07,csat,3,EV,,
2024-01-08,csat,1,EV,,
2024-01-10,enps,9,EV,dev1,
2024-01-11,enps,9,EV,dev2,
2024-01-12,enps,2,EV,dev3,
`
	res, err := in.ImportSatisfaction(ctx, strings.NewReader(file), "csv", "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 12 || res.New != 12 {
		t.Fatalf("first import %+v", res)
	}
	res, err = in.ImportSatisfaction(ctx, strings.NewReader(file), "csv", "test")
	if err != nil || res.New != 0 || res.Unchanged != 12 {
		t.Fatalf("second import %+v %v", res, err)
	}
	var physical uint64
	st.QueryRow(ctx, "SELECT count() FROM satisfaction_responses", nil, &physical)
	if physical != 12 {
		t.Fatalf("%d rows stored after importing twice", physical)
	}
	var hashes []struct {
		H string `ch:"respondent_hash"`
	}
	st.Select(ctx, &hashes, "SELECT respondent_hash FROM satisfaction_responses WHERE respondent_hash != ''")
	for _, h := range hashes {
		if strings.Contains(h.H, "@") || len(h.H) != 32 {
			t.Fatalf("respondent stored as %q, want a salted hash", h.H)
		}
	}
	ms := metrics.New(st)
	sat, err := ms.Satisfaction(ctx, "EV", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), metrics.Month)
	if err != nil {
		t.Fatal(err)
	}
	if *sat.NPS.Score != 0 || sat.NPS.Responses != 5 || *sat.CSAT.Score != 50 || *sat.CSAT.Mean != 3.25 || *sat.ENPS.Score != 33.3333 {
		t.Fatalf("NPS %+v CSAT %+v eNPS %+v", sat.NPS, sat.CSAT, sat.ENPS)
	}
}

func TestJSONImportNamesLines(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	good := `[
 {"responded_at": "2024-01-05", "scale": "nps", "score": 9, "product": "EV"},
 {"responded_at": "2024-01-06", "scale": "csat", "score": 4, "product": "EV", "comment": "ok"}
]`
	res, err := in.ImportSatisfaction(ctx, strings.NewReader(good), "json", "test")
	if err != nil || res.New != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	bad := "{\"responded_at\": \"2024-01-05\", \"scale\": \"nps\", \"score\": 9, \"product\": \"EV\"}\n{\"responded_at\": \"2024-01-05\", \"scale\": \"nps\", \"score\": 12, \"product\": \"EV\", \"extra\": 1}\n"
	_, err = in.ImportSatisfaction(ctx, strings.NewReader(bad), "json", "test")
	msg := evident.ErrorMessage(err)
	if err == nil || !strings.Contains(msg, "line 2, column score: 12 is out of range") || !strings.Contains(msg, "line 2, column extra: unknown field") {
		t.Fatalf("message: %s", msg)
	}
}

func TestValueImport(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	file := "product,measure,period_start,period_end,value,unit\nEV,revenue,2024-01-01,2024-01-31,1000,EUR\nEV,market_share,2024-01-01,2024-01-31,12.5,%\n"
	if res, err := in.ImportValue(ctx, strings.NewReader(file), "csv", "t"); err != nil || res.New != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if res, err := in.ImportValue(ctx, strings.NewReader(file), "csv", "t"); err != nil || res.New != 0 || res.Unchanged != 2 {
		t.Fatalf("re-import %+v %v", res, err)
	}
	changed := strings.Replace(file, "1000", "1100", 1)
	if res, err := in.ImportValue(ctx, strings.NewReader(changed), "csv", "t"); err != nil || res.New != 1 {
		t.Fatalf("corrected import %+v %v", res, err)
	}
	var v float64
	st.QueryRow(ctx, "SELECT value FROM value_records FINAL WHERE measure = 'revenue'", nil, &v)
	if v != 1100 {
		t.Fatalf("revenue %v after the correction", v)
	}
	for _, c := range []struct{ file, want string }{
		{"product,measure,period_start,period_end,value,unit\nEV,Revenue $,2024-01-01,2024-01-31,1,EUR\n", "line 2, column measure"},
		{"product,measure,period_start,period_end,value,unit\nEV,revenue,2024-02-01,2024-01-31,1,EUR\n", "line 2, column period_end: 2024-01-31 is before period_start"},
		{"product,measure,period_start,period_end,value,unit\nEV,revenue,2024-01-01,2024-01-31,NaN,EUR\n", "line 2, column value"},
		{"product,measure,period_start,period_end,value,unit\nEV,cost,2024-01-01,2024-01-31,1,EUR\nEV,cost,2024-01-01,2024-01-31,2,EUR\n", "line 3: duplicate row: a second value for the same product, measure and period as line 2"},
	} {
		_, err := in.ImportValue(ctx, strings.NewReader(c.file), "csv", "t")
		if err == nil || !strings.Contains(evident.ErrorMessage(err), c.want) {
			t.Errorf("%q: %v", c.want, err)
		}
	}
}

func TestGoalTree(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	sg, err := in.SaveGoal(ctx, evident.Goal{Level: "strategic", Title: "Customers love the shop", Product: "EV", Measure: "nps", Baseline: 10, Target: 50, TargetDate: day("2025-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	ig, err := in.SaveGoal(ctx, evident.Goal{Level: "intermediate", ParentID: sg.ID, Title: "Faster delivery", Product: "EV", Measure: "lead_time_p85_days", Baseline: 30, Target: 10, TargetDate: day("2025-06-30")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		g    evident.Goal
		want string
	}{
		{evident.Goal{Level: "tactical", ParentID: sg.ID, Title: "x", Measure: "nps", Target: 1, TargetDate: day("2025-01-01")}, "a tactical goal hangs under a intermediate goal, not a strategic one"},
		{evident.Goal{Level: "tactical", Title: "x", Measure: "nps", Target: 1, TargetDate: day("2025-01-01")}, "parent_id: a tactical goal needs a parent"},
		{evident.Goal{Level: "strategic", Title: "x", Measure: "nps", Target: 1, Baseline: 1, TargetDate: day("2025-01-01")}, "target: equals the baseline"},
		{evident.Goal{Level: "epic", Title: "x", Measure: "nps", Target: 1, TargetDate: day("2025-01-01")}, "level: \"epic\""},
		{evident.Goal{Level: "strategic", Title: "", Measure: "nps", Target: 1, TargetDate: day("2025-01-01")}, "title: required"},
		{evident.Goal{ID: "nope", Level: "strategic", Title: "x", Measure: "nps", Target: 1, TargetDate: day("2025-01-01")}, "no goal \"nope\""},
		{evident.Goal{Level: "strategic", Title: "x", Measure: "happiness", Target: 1, TargetDate: day("2025-01-01")}, "measure: \"happiness\" is not a measure"},
		{evident.Goal{Level: "strategic", Title: "x", Measure: "nps", KVA: "time_to_market", Target: 1, TargetDate: day("2025-01-01")}, "kva: nps is a measure of current_value"},
	} {
		if _, err := in.SaveGoal(ctx, c.g); err == nil || !strings.Contains(evident.ErrorMessage(err), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	if ig.KVA != evident.KVATimeToMarket {
		t.Errorf("a goal without a KVA takes its measure's: %q", ig.KVA)
	}
	if _, err := in.SaveExperiment(ctx, evident.Experiment{Title: "x", Hypothesis: "y", Measure: "happiness", StartedAt: day("2025-01-01")}); err == nil || !strings.Contains(evident.ErrorMessage(err), "measure:") {
		t.Errorf("an experiment on an unknown measure: %v", err)
	}
	if err := in.DeleteGoal(ctx, sg.ID); err == nil || evident.ErrorCode(err) != evident.ECONFLICT {
		t.Fatalf("deleting a goal with children: %v", err)
	}
	if err := in.DeleteGoal(ctx, ig.ID); err != nil {
		t.Fatal(err)
	}
	goals, _ := in.Goals(ctx, "EV")
	if len(goals) != 1 || goals[0].ID != sg.ID {
		t.Fatalf("goals after delete: %+v", goals)
	}
}

// Ambiguous or malformed input is refused whole, naming the line: keys
// that differ only in case (which would win depended on map order), content
// after the JSON array, product names that are not text or too long, and
// the same in goals and experiments.
func TestAmbiguousInputIsRefused(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	in.Now = func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
	ctx := context.Background()
	for name, c := range map[string]struct{ format, file, want string }{
		"case twins":      {"json", `[{"responded_at": "2024-01-05", "scale": "nps", "score": 9, "product": "EV", "Product": "XX"}]`, `line 1, column product: given twice in record 1 (as "Product" and "product")`},
		"trailing bytes":  {"json", `[{"responded_at": "2024-01-05", "scale": "nps", "score": 9, "product": "EV"}] {"x": 1}`, "something follows the JSON array"},
		"binary product":  {"csv", "responded_at,scale,score,product,respondent,comment\n2024-01-05,nps,9,E\xffV,,\n", "line 2, column product: not a product name"},
		"control product": {"csv", "responded_at,scale,score,product,respondent,comment\n2024-01-05,nps,9,\"E\x07V\",,\n", "line 2, column product: not a product name"},
		"long product":    {"csv", "responded_at,scale,score,product,respondent,comment\n2024-01-05,nps,9," + strings.Repeat("p", 201) + ",,\n", "line 2, column product: not a product name"},
	} {
		_, err := in.ImportSatisfaction(ctx, strings.NewReader(c.file), c.format, "test")
		if msg := evident.ErrorMessage(err); err == nil || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	var n uint64
	if err := st.QueryRow(ctx, "SELECT count() FROM satisfaction_responses", nil, &n); err != nil || n != 0 {
		t.Fatalf("%d rows stored by refused files (%v)", n, err)
	}
	if _, err := in.SaveGoal(ctx, evident.Goal{Level: "strategic", Title: "t", Measure: "nps", Baseline: 1, Target: 2, Product: strings.Repeat("p", 201),
		TargetDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil || !strings.Contains(evident.ErrorMessage(err), "product:") {
		t.Errorf("goal with a 201-byte product: %v", err)
	}
}

// An import killed halfway leaves its staging table behind; the next
// import drops it once it is older than an hour, and leaves alone the
// staging table of an import still running.
func TestLeftoverStagingTablesAreDropped(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	stale := fmt.Sprintf("import_value_records_%d_00000000deadbeef", time.Now().Add(-2*time.Hour).Unix())
	running := fmt.Sprintf("import_value_records_%d_00000000cafebabe", time.Now().Add(-time.Minute).Unix())
	for _, n := range []string{stale, running} {
		if err := st.Exec(ctx, "CREATE TABLE "+n+" AS value_records ENGINE = MergeTree ORDER BY product"); err != nil {
			t.Fatal(err)
		}
	}
	file := "product,measure,period_start,period_end,value,unit\nSHOP,revenue,2024-01-01,2024-01-31,5,EUR\n"
	if _, err := in.ImportValue(ctx, strings.NewReader(file), "csv", "t"); err != nil {
		t.Fatal(err)
	}
	var names []string
	rows, cancel, err := st.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'import_') ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	if strings.Join(names, ",") != running {
		t.Fatalf("staging tables after the import: %v, want only %s", names, running)
	}
}

// Four identical files imported at once, each through its own connection
// as four processes would: one reports its rows new, the others report
// them already there (before: each reported every row new; then, with a
// lock inside the process, processes still could).
func TestConcurrentIdenticalImportsCountRowsOnce(t *testing.T) {
	dsn := chtest.DSN(t)
	ctx := context.Background()
	services := make([]*inputs.Service, 4)
	for i := range services {
		services[i] = inputs.New(chtest.StoreAt(t, dsn), "salt")
		services[i].Now = func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
	}
	var b strings.Builder
	b.WriteString("responded_at,scale,score,product,respondent,comment\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "2024-01-%02d,nps,%d,EV,r%d,\n", i%28+1, i%11, i)
	}
	file := b.String()
	results := make([]evident.ImportResult, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := services[i].ImportSatisfaction(ctx, strings.NewReader(file), "csv", "t")
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	newRows := 0
	for _, r := range results {
		newRows += r.New
	}
	if newRows != 2000 {
		t.Fatalf("four identical imports reported %d new rows in all (%+v), want 2000", newRows, results)
	}

	// The lock of an import killed while it held it is broken once a
	// commit has waited ImportLockMaxWait.
	defer func(d time.Duration) { schema.ImportLockMaxWait = d }(schema.ImportLockMaxWait)
	schema.ImportLockMaxWait = 300 * time.Millisecond
	if err := services[0].Store.Exec(ctx, "CREATE TABLE evident_import_lock (at DateTime) ENGINE = TinyLog"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := services[1].ImportSatisfaction(ctx, strings.NewReader(file), "csv", "t")
	if err != nil || res.Unchanged != 2000 || time.Since(start) < schema.ImportLockMaxWait {
		t.Fatalf("import after a leftover lock: %+v %v in %v", res, err, time.Since(start))
	}
}

// endless is an endless stream of one byte: a file that never ends.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// Files are streamed, so a line (CSV) or a record (JSON) without end must
// be refused before it fills memory: reading either would never stop.
func TestEndlessLinesAndRecordsAreRefused(t *testing.T) {
	st := chtest.Store(t)
	in := inputs.New(st, "salt")
	ctx := context.Background()
	ok := header + "2024-01-05,nps,9,EV,a,\n"
	for name, c := range map[string]struct {
		format string
		r      io.Reader
		want   string
	}{
		"csv line without end":   {"csv", io.MultiReader(strings.NewReader(ok), endless('x')), "line 3: longer than 1 MiB"},
		"csv header without end": {"csv", endless('x'), "line 1: longer than 1 MiB"},
		"json string without end": {"json", io.MultiReader(strings.NewReader(`[{"responded_at": "2024-01-05", "scale": "nps", "score": 9, "product": "EV"},
{"comment": "`), endless('x')), "line 2: record 2 is longer than 4 MiB"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := in.ImportSatisfaction(ctx, c.r, c.format, "test")
		runtime.ReadMemStats(&after)
		if msg := evident.ErrorMessage(err); err == nil || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: %d MiB allocated to refuse it", name, alloc>>20)
		}
	}
	// A line of almost a MiB is still a line.
	long := header + "2024-01-05,nps,9,EV,a," + strings.Repeat(" ", inputs.MaxLine-100) + "ok\n"
	if _, err := in.ImportSatisfaction(ctx, strings.NewReader(long), "csv", "test"); err != nil {
		t.Errorf("a line of %d bytes: %v", len(long)-len(header), err)
	}
}
