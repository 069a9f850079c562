package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// RawFigure sets the uncached flow endpoint beside the raw ClickHouse
// queries that give its figures (lead and cycle time percentiles, weekly
// throughput and the lead-time histogram; WIP; the aging items; the
// scatterplot's points), run four at once as the endpoint runs them, by
// as many clients and as often as the endpoint was asked. The two are
// measured in alternate rounds, so that whatever else the machine does
// weighs on both alike (measured minutes apart, their ratio ranged from
// 1.6 to 3.1 over four runs).
type RawFigure struct {
	Path   string  `json:"path"`
	APIp50 float64 `json:"api_p50_ms"`
	APIp95 float64 `json:"api_p95_ms"`
	RawP50 float64 `json:"raw_p50_ms"`
	RawP95 float64 `json:"raw_p95_ms"`
	// Ratio is APIp50 / RawP50.
	Ratio float64 `json:"ratio"`
}

func (o *Options) rawFlow(ctx context.Context, dsn, base string) (RawFigure, error) {
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	f := RawFigure{Path: fmt.Sprintf("/api/v1/flow?project=SHOP&from=%s&to=%s", to.AddDate(-1, 0, 0).Format("2006-01-02"), to.Format("2006-01-02"))}
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return f, err
	}
	defer st.Close()
	from, now := to.AddDate(-1, 0, 0), time.Now().UTC()
	where := schema.Current + " AND project_key = 'SHOP' AND issue_type NOT IN ('Epic', 'Initiative')"
	done := where + " AND done_at >= toDateTime(?) AND done_at < toDateTime(?)"
	queries := []struct {
		sql  string
		args []any
	}{
		{`SELECT count(), quantilesExact(0.5, 0.7, 0.85, 0.95)(lead), countIf(started), quantilesExactIf(0.5, 0.7, 0.85, 0.95)(cyc, started),
			sumMap([toMonday(d)], [toUInt64(1)]), sumMap([intDiv(lead, 86400)], [toUInt64(1)])
			FROM (SELECT assumeNotNull(done_at) AS d, toInt64(toUInt32(d)) - toInt64(toUInt32(created_at)) AS lead, started_at IS NOT NULL AS started,
				toInt64(toUInt32(d)) - toInt64(toUInt32(ifNull(started_at, toDateTime(0)))) AS cyc FROM issues_current WHERE ` + done + `)`, []any{from.Unix(), to.Unix()}},
		{`SELECT count() FROM issues_current WHERE ` + where + ` AND started_at IS NOT NULL AND started_at <= toDateTime(?) AND (done_at IS NULL OR done_at > toDateTime(?))`, []any{now.Unix(), now.Unix()}},
		{`SELECT issue_key, summary, status_name, started_at, due_date FROM issues_current WHERE ` + where + ` AND started_at IS NOT NULL AND done_at IS NULL AND status_category != 'done'
			ORDER BY started_at, issue_key LIMIT 2000`, nil},
		{`SELECT issue_key, summary, issue_type, done_at, (toUInt32(assumeNotNull(done_at)) - toUInt32(assumeNotNull(started_at))) / 86400 FROM issues_current
			WHERE ` + done + ` AND started_at IS NOT NULL ORDER BY cityHash64(site, issue_id) LIMIT 5000`, []any{from.Unix(), to.Unix()}},
	}
	one := func() error {
		var wg sync.WaitGroup
		errs := make([]error, len(queries))
		for i, q := range queries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows, err := st.Conn.Query(ctx, q.sql, q.args...)
				if err != nil {
					errs[i] = err
					return
				}
				for rows.Next() {
				}
				errs[i] = rows.Err()
				rows.Close()
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	var mu sync.Mutex
	var lat, apiLat []float64
	var first error
	const rounds = 4
	for range rounds {
		l, errs := o.latencies(ctx, base, f.Path, o.Requests/rounds, false)
		if errs > 0 {
			return f, fmt.Errorf("GET %s: %d of %d failed", f.Path, errs, o.Requests/rounds)
		}
		apiLat = append(apiLat, l...)
		next := make(chan struct{}, o.Requests/rounds)
		for i := 0; i < o.Requests/rounds; i++ {
			next <- struct{}{}
		}
		close(next)
		var wg sync.WaitGroup
		for c := 0; c < o.Clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					t := time.Now()
					err := one()
					mu.Lock()
					if err != nil && first == nil {
						first = err
					}
					lat = append(lat, float64(time.Since(t).Microseconds())/1000)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if first != nil {
			return f, first
		}
	}
	f.APIp50, f.APIp95, _, _ = percentiles(apiLat)
	f.RawP50, f.RawP95, _, _ = percentiles(lat)
	if f.RawP50 > 0 {
		f.Ratio = round(f.APIp50 / f.RawP50)
	}
	return f, nil
}
