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
	if err := r.s.Store.InsertBoards(ctx, boards); err != nil {
		return err
	}
	return r.s.Store.InsertSprints(ctx, sprints)
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
