package collector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/evident-ebm/evident"
)

// agile collects versions, boards and sprints of the configured projects.
func (r *run) agile(ctx context.Context) error {
	var releases []evident.Release
	for _, key := range r.cfg.Projects {
		var versions []struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			Released    bool   `json:"released"`
			Archived    bool   `json:"archived"`
			ReleaseDate string `json:"releaseDate"`
		}
		if err := r.c.get(ctx, "rest/api/2/project/"+url.PathEscape(key)+"/versions", &versions); err != nil {
			return err
		}
		for _, v := range versions {
			id, _ := strconv.ParseUint(v.ID, 10, 64)
			rel := evident.Release{Site: r.cfg.Name, VersionID: id, ProjectKey: key, Name: v.Name, Released: b2u(v.Released), Archived: b2u(v.Archived), Version: r.version}
			if v.ReleaseDate != "" {
				if d, err := time.Parse("2006-01-02", v.ReleaseDate); err == nil {
					rel.ReleaseDate = &d
				} else {
					r.problem(key, "releaseDate", fmt.Sprintf("version %s: %q is not a date", v.Name, v.ReleaseDate))
				}
			}
			releases = append(releases, rel)
		}
	}
	if err := r.s.Store.InsertReleases(ctx, releases); err != nil {
		return err
	}
	var boards []evident.Board
	var sprints []evident.Sprint
	var configs []evident.BoardConfig
	configured := map[uint64]bool{} // a board over several projects is listed for each
	for _, key := range r.cfg.Projects {
		for start := 0; ; {
			var page struct {
				IsLast bool `json:"isLast"`
				Values []struct {
					ID       uint64 `json:"id"`
					Name     string `json:"name"`
					Type     string `json:"type"`
					Location struct {
						ProjectKey string `json:"projectKey"`
					} `json:"location"`
				} `json:"values"`
			}
			path := fmt.Sprintf("rest/agile/1.0/board?projectKeyOrId=%s&startAt=%d&maxResults=50", url.QueryEscape(key), start)
			if err := r.c.get(ctx, path, &page); err != nil {
				var e *evident.Error
				if errors.As(err, &e) && (e.Code == evident.ENOTFOUND || e.Code == evident.EFORBIDDEN) {
					r.s.Log.Warn("no Jira Software boards readable; sprints skipped", "site", r.cfg.Name, "project", key)
					break
				}
				return err
			}
			for _, b := range page.Values {
				boards = append(boards, evident.Board{Site: r.cfg.Name, BoardID: b.ID, Name: b.Name, Type: b.Type, ProjectKey: key, Version: r.version})
				if !configured[b.ID] {
					configured[b.ID] = true
					c, ok, err := r.boardConfig(ctx, b.ID)
					if err != nil {
						return err
					}
					if ok {
						configs = append(configs, c)
					}
				}
				if b.Type == "scrum" {
					s, err := r.sprints(ctx, b.ID)
					if err != nil {
						return err
					}
					sprints = append(sprints, s...)
				}
			}
			start += len(page.Values)
			if page.IsLast || len(page.Values) == 0 {
				break
			}
		}
	}
	cycles, err := Cycles(r.cfg.Name, r.cfg.Boards, boards, configs, r.meta.statuses)
	if err != nil {
		return evident.Errorf(evident.EINVALID, "%v", err)
	}
	r.mapping.Cycles = cycles
	if err := r.s.Store.InsertBoards(ctx, boards); err != nil {
		return err
	}
	if err := r.s.Store.InsertBoardConfigs(ctx, configs); err != nil {
		return err
	}
	return r.s.Store.InsertSprints(ctx, sprints)
}

// boardConfig reads a board's columns, their statuses and WIP limits
// (/rest/agile/1.0/board/{id}/configuration). A board whose configuration
// the account may not read is skipped with a warning (ok false).
func (r *run) boardConfig(ctx context.Context, board uint64) (evident.BoardConfig, bool, error) {
	var page struct {
		Filter struct {
			ID string `json:"id"`
		} `json:"filter"`
		ColumnConfig struct {
			Columns []struct {
				Name     string `json:"name"`
				Statuses []struct {
					ID string `json:"id"`
				} `json:"statuses"`
				Min *int32 `json:"min"`
				Max *int32 `json:"max"`
			} `json:"columns"`
			ConstraintType string `json:"constraintType"`
		} `json:"columnConfig"`
		Estimation struct {
			Field struct {
				FieldID string `json:"fieldId"`
			} `json:"field"`
		} `json:"estimation"`
	}
	out := evident.BoardConfig{Site: r.cfg.Name, BoardID: board, ColumnNames: []string{}, ColumnStatuses: [][]string{}, ColumnMin: []int32{}, ColumnMax: []int32{}, Version: r.version}
	if err := r.c.get(ctx, fmt.Sprintf("rest/agile/1.0/board/%d/configuration", board), &page); err != nil {
		var e *evident.Error
		if errors.As(err, &e) && (e.Code == evident.ENOTFOUND || e.Code == evident.EFORBIDDEN) {
			r.s.Log.Warn("board configuration not readable; its columns are unknown", "site", r.cfg.Name, "board", board)
			return out, false, nil
		}
		return out, false, err
	}
	limit := func(v *int32) int32 {
		if v == nil {
			return -1
		}
		return *v
	}
	for _, c := range page.ColumnConfig.Columns {
		ids := []string{}
		for _, st := range c.Statuses {
			ids = append(ids, st.ID)
		}
		out.ColumnNames = append(out.ColumnNames, c.Name)
		out.ColumnStatuses = append(out.ColumnStatuses, ids)
		out.ColumnMin, out.ColumnMax = append(out.ColumnMin, limit(c.Min)), append(out.ColumnMax, limit(c.Max))
	}
	out.ConstraintType, out.EstimationField, out.FilterID = page.ColumnConfig.ConstraintType, page.Estimation.Field.FieldID, page.Filter.ID
	return out, true, nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (r *run) sprints(ctx context.Context, board uint64) ([]evident.Sprint, error) {
	var out []evident.Sprint
	for start := 0; ; {
		var page struct {
			IsLast bool `json:"isLast"`
			Values []struct {
				ID            uint64 `json:"id"`
				Name          string `json:"name"`
				State         string `json:"state"`
				StartDate     string `json:"startDate"`
				EndDate       string `json:"endDate"`
				CompleteDate  string `json:"completeDate"`
				Goal          string `json:"goal"`
				OriginBoardID uint64 `json:"originBoardId"`
			} `json:"values"`
		}
		path := fmt.Sprintf("rest/agile/1.0/board/%d/sprint?startAt=%d&maxResults=50", board, start)
		if err := r.c.get(ctx, path, &page); err != nil {
			return nil, err
		}
		for _, s := range page.Values {
			sp := evident.Sprint{Site: r.cfg.Name, SprintID: s.ID, BoardID: board, Name: s.Name, State: s.State, Goal: s.Goal, Version: r.version}
			if s.OriginBoardID != 0 && s.OriginBoardID != board {
				continue // a sprint shared from another board is stored with its own board
			}
			for _, d := range []struct {
				s   string
				dst **time.Time
			}{{s.StartDate, &sp.StartAt}, {s.EndDate, &sp.EndAt}, {s.CompleteDate, &sp.CompleteAt}} {
				if d.s == "" {
					continue
				}
				t, err := ParseJiraTime(d.s)
				if err != nil {
					r.problem(fmt.Sprintf("sprint %d", s.ID), "date", err.Error())
					continue
				}
				*d.dst = &t
			}
			out = append(out, sp)
		}
		start += len(page.Values)
		if page.IsLast || len(page.Values) == 0 {
			return out, nil
		}
	}
}
