package dashboard

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

// maxRange bounds the period a request may ask for.
const maxRange = 10 * 366 * 24 * time.Hour

// params reads the filters every measure takes, naming the parameter that
// is wrong.
type params struct {
	c   *fiber.Ctx
	now time.Time
}

func (p params) date(name string) (time.Time, bool, error) {
	v := strings.TrimSpace(p.c.Query(name))
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, false, evident.Errorf(evident.EINVALID, "%s: %q is not a date (want YYYY-MM-DD)", name, v)
	}
	if !evident.StorableTime(t) {
		return time.Time{}, false, evident.Errorf(evident.EINVALID, "%s: %s", name, evident.OutsideStorable(v))
	}
	return t.UTC(), true, nil
}

func (p params) uint(name string) (uint64, error) {
	v := strings.TrimSpace(p.c.Query(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, evident.Errorf(evident.EINVALID, "%s: %q is not a positive whole number", name, v)
	}
	return n, nil
}

func (p params) int(name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(p.c.Query(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, evident.Errorf(evident.EINVALID, "%s: %q must be a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// filter reads project, board, type, category, label, site and the
// from/to range (default: the 90 days up to and including today).
func (p params) filter() (metrics.Filter, error) {
	var f metrics.Filter
	f.Site = strings.TrimSpace(p.c.Query("site"))
	f.Project = queryProject(p.c)
	var err error
	if f.Board, err = p.uint("board"); err != nil {
		return f, err
	}
	for _, t := range strings.Split(p.c.Query("type"), ",") {
		if t = strings.TrimSpace(t); t != "" && t != "all" { // "all": every type, epics too
			f.Types = append(f.Types, t)
		}
	}
	f.WorkCategory = strings.TrimSpace(p.c.Query("category"))
	if f.WorkCategory != "" && !evident.OneOf(f.WorkCategory, evident.WorkCategories) {
		return f, evident.Errorf(evident.EINVALID, "category: %q is not one of feature, defect, incident, debt, other", f.WorkCategory)
	}
	f.Label = strings.TrimSpace(p.c.Query("label"))
	for _, w := range strings.Split(p.c.Query("wait"), ",") {
		if w = strings.TrimSpace(w); w != "" {
			f.WaitStatuses = append(f.WaitStatuses, w)
		}
	}
	from, hasFrom, err := p.date("from")
	if err != nil {
		return f, err
	}
	to, hasTo, err := p.date("to")
	if err != nil {
		return f, err
	}
	if !hasTo {
		to = p.now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	if !hasFrom {
		from = to.AddDate(0, 0, -90)
	}
	if !from.Before(to) {
		return f, evident.Errorf(evident.EINVALID, "from: %s is not before to: %s", from.Format("2006-01-02"), to.Format("2006-01-02"))
	}
	if to.Sub(from) > maxRange {
		return f, evident.Errorf(evident.EINVALID, "from/to: the range is longer than ten years")
	}
	f.From, f.To = from, to
	return f, nil
}

func (p params) period() (metrics.Period, error) {
	return metrics.ParsePeriod(strings.TrimSpace(p.c.Query("period")))
}

// queryProject is the project a request's answer is about ("": any or
// all), as the filters read it.
func queryProject(c *fiber.Ctx) string {
	return strings.ToUpper(strings.TrimSpace(c.Query("project")))
}
