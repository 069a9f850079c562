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
	boards, configs, err := r.s.Store.Boards(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	cycles, err := Cycles(r.cfg.Name, r.cfg.Boards, boards, configs, cats)
	if err != nil {
		return evident.Errorf(evident.EINVALID, "%v", err)
	}
	r.mapping = Mapping{Site: r.cfg.Name, Version: r.version, Fields: fields, StatusCategory: cats, CategoryByName: categoryByName(statuses),
		Projects: r.cfg.ProjectSettings, Cycles: cycles}
	if err := r.reextract(ctx); err != nil {
		return err
	}
	site.Cycles, site.Version = cyclesKey(cycles), r.version
	return r.s.Store.InsertSites(ctx, []evident.Site{site})
}

// cyclesChanged re-extracts the stored issues of the site when the cycles
// the board columns give differ from those they were extracted with, and
// then records the new ones: until it has, every run tries again.
func (r *run) cyclesChanged(ctx context.Context) error {
	key := cyclesKey(r.mapping.Cycles)
	if key == r.prev.Cycles {
		return nil
	}
	if r.prev.ok {
		r.s.Log.Info("cycle time's board columns changed; re-extracting the stored issues", "site", r.cfg.Name)
		fetched, changed := r.sum.Fetched, r.sum.Changed
		if err := r.reextract(ctx); err != nil {
			return err
		}
		r.sum.Fetched, r.sum.Changed = fetched, changed
	}
	site, ok, err := r.s.Store.Site(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("site %s: stored metadata missing", r.cfg.Name)
	}
	site.Cycles, site.Version = key, r.version
	return r.s.Store.InsertSites(ctx, []evident.Site{site})
}

// reextract extracts every stored raw issue of the site again with the
// run's mapping.
func (r *run) reextract(ctx context.Context) error {
	var t tables
	n := 0
	err := r.s.Store.EachRawIssue(ctx, r.cfg.Name, func(raw evident.RawIssue) error {
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
