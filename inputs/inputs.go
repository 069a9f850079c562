package inputs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// Service imports inputs into the store and keeps goals and experiments.
type Service struct {
	Store *schema.Store
	// Salt is mixed into the hash of a respondent, so that the stored
	// hash cannot be looked up against a list of e-mail addresses.
	Salt string
	// Now is "today" for validation (an answer dated after it is refused)
	// and for the creation time of goals; tests and the demo hand in their
	// own. Row versions always come from the wall clock, so that a clock
	// set in the past can never make a newer write lose to an older one.
	Now func() time.Time
}

// New returns a Service.
func New(st *schema.Store, salt string) *Service {
	return &Service{Store: st, Salt: salt, Now: time.Now}
}

// SaltFromEnv reads EVIDENT_RESPONDENT_SALT; without it respondents are
// hashed with a fixed salt (documented: set your own in production).
func SaltFromEnv(getenv func(string) string) string {
	if s := getenv("EVIDENT_RESPONDENT_SALT"); s != "" {
		return s
	}
	return "evident-default-salt"
}

const stageBatch = 50000

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stage streams validated rows into a private staging table so that memory
// does not grow with the file; nothing reaches the real table until every
// row passed.
type stage[T any] struct {
	st    *schema.Store
	table string
	cols  string
	buf   []T
}

func (s *stage[T]) add(ctx context.Context, row T) error {
	s.buf = append(s.buf, row)
	if len(s.buf) >= stageBatch {
		return s.flush(ctx)
	}
	return nil
}

func (s *stage[T]) flush(ctx context.Context) error {
	if len(s.buf) == 0 {
		return nil
	}
	err := schema.InsertInto(ctx, s.st, s.table, s.buf)
	s.buf = s.buf[:0]
	return err
}

// fileImport says how one kind of file is staged: the table it lands in,
// how a record becomes a row, and what makes two rows duplicates.
type fileImport[T any] struct {
	target, orderBy string // the real table, and the staging table's ORDER BY
	kind            string // "survey file", for messages
	columns         []string
	parse           func(record, *Problems) (T, bool)
	// mark stores the source and, while staged, the row's line in version
	// (to name duplicates).
	mark            func(row *T, source string, line int)
	dupKey, dupWhat string
}

// importFile stages every row of a file in a table of its own, rejects the
// whole file on any bad or duplicate row, and hands the staged table to
// commit, which moves the rows into the real table. The staging table is
// dropped in every case.
func importFile[T any](ctx context.Context, s *Service, r io.Reader, format, source string, fi fileImport[T],
	commit func(table string, res evident.ImportResult) (evident.ImportResult, error)) (evident.ImportResult, error) {
	var res evident.ImportResult
	table, err := s.Store.CreateStaging(ctx, fi.target, fi.orderBy)
	if err != nil {
		return res, err
	}
	defer s.Store.DropStaging(table)
	var ps Problems
	stg := &stage[T]{st: s.Store, table: table}
	err = rows(r, format, fi.columns, nil, &ps, func(rec record) error {
		row, ok := fi.parse(rec, &ps)
		if !ok || ps.Total > 0 {
			return nil
		}
		fi.mark(&row, source, rec.line)
		res.Rows++
		return stg.add(ctx, row)
	})
	if err != nil {
		return res, err
	}
	if err := ps.Err(fi.kind); err != nil {
		return res, err
	}
	if err := stg.flush(ctx); err != nil {
		return res, err
	}
	if err := s.duplicates(ctx, table, fi.dupKey, fi.dupWhat); err != nil {
		return res, err
	}
	// Commits one at a time, in whatever process: two identical files
	// imported at once would both count nothing as there yet and both
	// report every row as new.
	unlock, err := s.Store.LockImports(ctx)
	if err != nil {
		return res, err
	}
	defer unlock()
	return commit(table, res)
}

// ImportSatisfaction imports survey answers (CSV with the header
// responded_at,scale,score,product,respondent,comment, or JSON records with
// those keys). Rows already imported are recognised by content.
func (s *Service) ImportSatisfaction(ctx context.Context, r io.Reader, format, source string) (evident.ImportResult, error) {
	now := s.Now()
	return importFile(ctx, s, r, format, source, fileImport[evident.SatisfactionResponse]{
		target: "satisfaction_responses", orderBy: "response_id", kind: "survey file", columns: SatisfactionColumns,
		parse: func(rec record, ps *Problems) (evident.SatisfactionResponse, bool) {
			return parseSatisfaction(rec, s.Salt, now, ps)
		},
		mark: func(row *evident.SatisfactionResponse, source string, line int) {
			row.Source, row.Version = source, uint64(line)
		},
		dupKey: "response_id", dupWhat: "the same answer (time, scale, score, product, respondent, comment)",
	}, func(table string, res evident.ImportResult) (evident.ImportResult, error) {
		return s.commitSatisfaction(ctx, table, res)
	})
}

// ImportValue imports value records (CSV with the header
// product,measure,period_start,period_end,value,unit, or JSON).
func (s *Service) ImportValue(ctx context.Context, r io.Reader, format, source string) (evident.ImportResult, error) {
	return importFile(ctx, s, r, format, source, fileImport[evident.ValueRecord]{
		target: "value_records", orderBy: "(product, measure, period_start, period_end)", kind: "value file", columns: ValueColumns,
		parse: parseValue,
		mark: func(row *evident.ValueRecord, source string, line int) {
			row.Source, row.Version = source, uint64(line)
		},
		dupKey: "(product, measure, period_start, period_end)", dupWhat: "a second value for the same product, measure and period",
	}, func(table string, res evident.ImportResult) (evident.ImportResult, error) {
		return s.commitValue(ctx, table, res)
	})
}

// commitValue moves staged value records into the real table, skipping
// those already there with the same value.
func (s *Service) commitValue(ctx context.Context, table string, res evident.ImportResult) (evident.ImportResult, error) {
	unchanged, err := s.Store.CommitValues(ctx, table, versionNow())
	if err != nil {
		return res, err
	}
	res.Unchanged, res.New = unchanged, res.Rows-unchanged
	return res, nil
}

// duplicates rejects a file with two rows of the same key, found in SQL.
// The staged version column holds each row's line.
func (s *Service) duplicates(ctx context.Context, table, keyExpr string, what string) error {
	dups, err := s.Store.StagedDuplicates(ctx, table, keyExpr)
	if err != nil {
		return err
	}
	var ps Problems
	for _, d := range dups {
		for _, line := range d.Lines[1:] {
			ps.Add(int(line), "", "duplicate row: %s as line %d", what, d.Lines[0])
		}
	}
	return ps.Err("file")
}

// versionNow is the version of a row written now: the wall clock in
// nanoseconds, whatever clock the service was handed.
func versionNow() uint64 { return uint64(time.Now().UnixNano()) }

// commitSatisfaction moves the staged answers into the real table,
// skipping those already there, and says how many were new.
func (s *Service) commitSatisfaction(ctx context.Context, table string, res evident.ImportResult) (evident.ImportResult, error) {
	existing, err := s.Store.CommitSatisfaction(ctx, table, versionNow())
	if err != nil {
		return res, err
	}
	res.Unchanged, res.New = existing, res.Rows-existing
	return res, nil
}

// ---- goals and experiments ----

var levels = map[string]int{evident.GoalStrategic: 0, evident.GoalIntermediate: 1, evident.GoalTactical: 2}

// Goals lists the live goals of a product ("" for all), parents first.
func (s *Service) Goals(ctx context.Context, product string) ([]evident.Goal, error) {
	out, err := s.Store.Goals(ctx, product)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(a, b int) bool { return levels[out[a].Level] < levels[out[b].Level] })
	if out == nil {
		out = []evident.Goal{}
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// Goal reads a live goal; ok is false when there is none.
func (s *Service) Goal(ctx context.Context, id string) (evident.Goal, bool, error) {
	return s.Store.Goal(ctx, id)
}

// SaveGoal creates a goal (empty id) or replaces one, checking the tree:
// an intermediate goal hangs under a strategic one, a tactical goal under
// an intermediate one.
func (s *Service) SaveGoal(ctx context.Context, g evident.Goal) (evident.Goal, error) {
	g.Title = strings.TrimSpace(g.Title)
	g.Level = strings.ToLower(g.Level)
	switch {
	case g.Title == "":
		return g, evident.Errorf(evident.EINVALID, "title: required")
	case len(g.Title) > 500:
		return g, evident.Errorf(evident.EINVALID, "title: at most 500 characters")
	case g.Measure == "":
		return g, evident.Errorf(evident.EINVALID, "measure: required (a measure key such as nps, lead_time_p85_days, revenue)")
	case g.TargetDate.IsZero():
		return g, evident.Errorf(evident.EINVALID, "target_date: required")
	case !g.BaselineDate.IsZero() && g.TargetDate.Before(g.BaselineDate):
		return g, evident.Errorf(evident.EINVALID, "target_date: before baseline_date")
	case g.Target == g.Baseline:
		return g, evident.Errorf(evident.EINVALID, "target: equals the baseline, so progress cannot be measured")
	}
	if err := storable(map[string]time.Time{"baseline_date": g.BaselineDate, "target_date": g.TargetDate}); err != nil {
		return g, err
	}
	if !validProduct(g.Product) {
		return g, evident.Errorf(evident.EINVALID, "product: valid UTF-8 text of at most %d bytes without control characters", MaxProductLen)
	}
	if _, ok := levels[g.Level]; !ok {
		return g, evident.Errorf(evident.EINVALID, "level: %q is not strategic, intermediate or tactical", g.Level)
	}
	if g.KVA != "" && !evident.OneOf(g.KVA, evident.KVAs) {
		return g, evident.Errorf(evident.EINVALID, "kva: %q is not current_value, unrealized_value, time_to_market or ability_to_innovate", g.KVA)
	}
	info, err := s.knownMeasure(ctx, g.Measure)
	if err != nil {
		return g, err
	}
	switch {
	case g.KVA == "":
		g.KVA = info.KVA
	case g.KVA != info.KVA && info.Source != "import":
		return g, evident.Errorf(evident.EINVALID, "kva: %s is a measure of %s, not %s", g.Measure, info.KVA, g.KVA)
	}
	if g.ParentID != "" {
		parent, ok, err := s.Goal(ctx, g.ParentID)
		if err != nil {
			return g, err
		}
		if !ok {
			return g, evident.Errorf(evident.EINVALID, "parent_id: no goal %q", g.ParentID)
		}
		if levels[parent.Level] != levels[g.Level]-1 {
			return g, evident.Errorf(evident.EINVALID, "parent_id: a %s goal hangs under a %s goal, not a %s one", g.Level,
				map[int]string{0: "(none: it is the top)", 1: "strategic", 2: "intermediate"}[levels[g.Level]], parent.Level)
		}
		if parent.ID == g.ID {
			return g, evident.Errorf(evident.EINVALID, "parent_id: a goal cannot be its own parent")
		}
	} else if g.Level != evident.GoalStrategic {
		return g, evident.Errorf(evident.EINVALID, "parent_id: a %s goal needs a parent", g.Level)
	}
	if g.ID == "" {
		g.ID = randomID()
		g.CreatedAt = s.Now().UTC().Truncate(time.Second)
	} else {
		old, ok, err := s.Goal(ctx, g.ID)
		if err != nil {
			return g, err
		}
		if !ok {
			return g, evident.Errorf(evident.ENOTFOUND, "no goal %q", g.ID)
		}
		g.CreatedAt = old.CreatedAt
	}
	if g.BaselineDate.IsZero() {
		g.BaselineDate = g.CreatedAt.Truncate(24 * time.Hour)
	}
	g.Version = versionNow()
	g.Deleted = 0
	return g, schema.InsertInto(ctx, s.Store, "goals", []evident.Goal{g})
}

// knownMeasure describes a measure a goal or experiment may name: one
// Evident computes or places, or one an import has recorded.
func (s *Service) knownMeasure(ctx context.Context, key string) (evident.MeasureInfo, error) {
	info, known := evident.MeasureOf(key)
	if known {
		return info, nil
	}
	imported, err := s.Store.ImportedMeasure(ctx, key)
	if err != nil {
		return info, err
	}
	if !imported {
		return info, evident.Errorf(evident.EINVALID, "measure: %q is not a measure Evident computes (%s) nor one an import has recorded", key, measureKeys())
	}
	return info, nil
}

// measureKeys lists the keys of the computed measures, for error messages.
func measureKeys() string {
	var keys []string
	for _, m := range evident.Measures {
		if m.Source != "import" {
			keys = append(keys, m.Key)
		}
	}
	return strings.Join(keys, ", ")
}

// DeleteGoal deletes a goal that has no live children.
func (s *Service) DeleteGoal(ctx context.Context, id string) error {
	g, ok, err := s.Goal(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return evident.Errorf(evident.ENOTFOUND, "no goal %q", id)
	}
	children, err := s.Store.GoalChildren(ctx, id)
	if err != nil {
		return err
	}
	if children > 0 {
		return evident.Errorf(evident.ECONFLICT, "goal %q has %d goal(s) under it: delete or move them first", id, children)
	}
	g.Deleted, g.Version = 1, versionNow()
	return schema.InsertInto(ctx, s.Store, "goals", []evident.Goal{g})
}

// Experiments lists the live experiments of a product ("" for all).
func (s *Service) Experiments(ctx context.Context, product string) ([]evident.Experiment, error) {
	out, err := s.Store.Experiments(ctx, product)
	if out == nil {
		out = []evident.Experiment{}
	}
	return out, err
}

// Experiment reads a live experiment; ok is false when there is none.
func (s *Service) Experiment(ctx context.Context, id string) (evident.Experiment, bool, error) {
	return s.Store.Experiment(ctx, id)
}

// SaveExperiment creates or replaces an experiment.
func (s *Service) SaveExperiment(ctx context.Context, e evident.Experiment) (evident.Experiment, error) {
	e.Title, e.Hypothesis = strings.TrimSpace(e.Title), strings.TrimSpace(e.Hypothesis)
	switch {
	case e.Title == "":
		return e, evident.Errorf(evident.EINVALID, "title: required")
	case e.Hypothesis == "":
		return e, evident.Errorf(evident.EINVALID, "hypothesis: required (what you expect to change, and why)")
	case e.Measure == "":
		return e, evident.Errorf(evident.EINVALID, "measure: required (the measure the experiment should move)")
	case e.StartedAt.IsZero():
		return e, evident.Errorf(evident.EINVALID, "started_at: required")
	case len(e.Title) > 500:
		return e, evident.Errorf(evident.EINVALID, "title: at most 500 characters")
	case e.EndedAt != nil && e.EndedAt.Before(e.StartedAt):
		return e, evident.Errorf(evident.EINVALID, "ended_at: before started_at")
	}
	dates := map[string]time.Time{"started_at": e.StartedAt}
	if e.EndedAt != nil {
		dates["ended_at"] = *e.EndedAt
	}
	if err := storable(dates); err != nil {
		return e, err
	}
	if !validProduct(e.Product) {
		return e, evident.Errorf(evident.EINVALID, "product: valid UTF-8 text of at most %d bytes without control characters", MaxProductLen)
	}
	if _, err := s.knownMeasure(ctx, e.Measure); err != nil {
		return e, err
	}
	if e.GoalID != "" {
		if _, ok, err := s.Goal(ctx, e.GoalID); err != nil {
			return e, err
		} else if !ok {
			return e, evident.Errorf(evident.EINVALID, "goal_id: no goal %q", e.GoalID)
		}
	}
	if e.ID == "" {
		e.ID = randomID()
		e.CreatedAt = s.Now().UTC().Truncate(time.Second)
	} else {
		old, ok, err := s.Experiment(ctx, e.ID)
		if err != nil {
			return e, err
		}
		if !ok {
			return e, evident.Errorf(evident.ENOTFOUND, "no experiment %q", e.ID)
		}
		e.CreatedAt = old.CreatedAt
	}
	e.Version, e.Deleted = versionNow(), 0
	return e, schema.InsertInto(ctx, s.Store, "experiments", []evident.Experiment{e})
}

// DeleteExperiment deletes an experiment.
func (s *Service) DeleteExperiment(ctx context.Context, id string) error {
	e, ok, err := s.Experiment(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return evident.Errorf(evident.ENOTFOUND, "no experiment %q", id)
	}
	e.Deleted, e.Version = 1, versionNow()
	return schema.InsertInto(ctx, s.Store, "experiments", []evident.Experiment{e})
}

// Annotations lists the annotations of a product and of every product.
func (s *Service) Annotations(ctx context.Context, product string) ([]evident.Annotation, error) {
	out, err := s.Store.Annotations(ctx, product)
	if out == nil {
		out = []evident.Annotation{}
	}
	for i := range out {
		out[i].At, out[i].CreatedAt = out[i].At.UTC(), out[i].CreatedAt.UTC()
	}
	return out, err
}

// SaveAnnotation creates an annotation (annotations are not edited: delete
// and add again).
func (s *Service) SaveAnnotation(ctx context.Context, a evident.Annotation) (evident.Annotation, error) {
	a.Text = strings.TrimSpace(a.Text)
	switch {
	case a.ID != "":
		return a, evident.Errorf(evident.EINVALID, "id: set by the server")
	case a.Text == "":
		return a, evident.Errorf(evident.EINVALID, "text: required (what changed)")
	case len(a.Text) > 500:
		return a, evident.Errorf(evident.EINVALID, "text: at most 500 characters")
	case a.At.IsZero():
		return a, evident.Errorf(evident.EINVALID, "at: required (the day of the change, YYYY-MM-DD)")
	case !evident.StorableTime(a.At):
		return a, evident.Errorf(evident.EINVALID, "at: %s", evident.OutsideStorable(a.At.Format("2006-01-02")))
	case !validProduct(a.Product):
		return a, evident.Errorf(evident.EINVALID, "product: valid UTF-8 text of at most %d bytes without control characters", MaxProductLen)
	}
	a.ID, a.At = randomID(), a.At.UTC().Truncate(24*time.Hour)
	a.CreatedAt = s.Now().UTC().Truncate(time.Second)
	a.Version, a.Deleted = versionNow(), 0
	return a, schema.InsertInto(ctx, s.Store, "annotations", []evident.Annotation{a})
}

// DeleteAnnotation deletes an annotation.
func (s *Service) DeleteAnnotation(ctx context.Context, id string) error {
	a, ok, err := s.Store.Annotation(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return evident.Errorf(evident.ENOTFOUND, "no annotation %q", id)
	}
	a.Deleted, a.Version = 1, versionNow()
	return schema.InsertInto(ctx, s.Store, "annotations", []evident.Annotation{a})
}

// storable rejects a date ClickHouse's DateTime cannot hold (stored, it
// would wrap around to another date), naming the field; zero dates are
// checked elsewhere (required, or defaulted).
func storable(dates map[string]time.Time) error {
	for _, field := range []string{"baseline_date", "target_date", "started_at", "ended_at"} {
		if t, ok := dates[field]; ok && !t.IsZero() && !evident.StorableTime(t) {
			return evident.Errorf(evident.EINVALID, "%s: %s", field, evident.OutsideStorable(t.Format("2006-01-02")))
		}
	}
	return nil
}

// RecordForecast keeps a forecast that was shown, for scoring once its
// outcome is known (the same question on the same day replaces it).
func (s *Service) RecordForecast(ctx context.Context, r metrics.ForecastRecord) error {
	return schema.InsertInto(ctx, s.Store, "forecast_log", []metrics.ForecastRecord{r})
}
