package collector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/evident-ebm/evident"
)

// rebuild re-extracts every stored raw issue with the current mappings.
func (r *run) rebuild(ctx context.Context) error {
	site, ok, err := r.s.Store.Site(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	if !ok {
		return evident.Errorf(evident.ENOTFOUND, "site %s was never synced: nothing to rebuild", r.cfg.Name)
	}
	var fields FieldIDs
	if err := json.Unmarshal([]byte(site.FieldIDs), &fields); err != nil {
		return fmt.Errorf("site %s: stored field ids: %w", r.cfg.Name, err)
	}
	statuses, err := r.s.Store.Statuses(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	cats := map[string]string{}
	for _, s := range statuses {
		cats[s.StatusID] = s.Category
	}
	r.mapping = Mapping{Site: r.cfg.Name, Version: r.version, Fields: fields, StatusCategory: cats, CategoryByName: categoryByName(statuses),
		Projects: r.cfg.ProjectSettings}
	var t tables
	n := 0
	err = r.s.Store.EachRawIssue(ctx, r.cfg.Name, func(raw evident.RawIssue) error {
		rows, err := Extract([]byte(raw.JSON), r.mapping)
		if err != nil {
			r.skip(err)
			return nil
		}
		r.sum.Fetched++
		r.sum.Changed++
		t.add(rows)
		r.stored(rows)
		if n++; n >= r.s.FlushIssues {
			err, t, n = t.write(ctx, r.s.Store), tables{}, 0
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return t.write(ctx, r.s.Store)
}
