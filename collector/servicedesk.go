package collector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evident-ebm/evident"
)

// findServiceDesks learns which configured projects are Jira Service
// Management desks; a site without JSM answers 404 and has none.
func (r *run) findServiceDesks(ctx context.Context) error {
	r.desks, r.resolved = map[string]bool{}, map[string]time.Time{}
	if r.cfg.ServiceDeskFeedback != nil && !*r.cfg.ServiceDeskFeedback {
		return nil
	}
	var page struct {
		Values []struct {
			ProjectKey string `json:"projectKey"`
		} `json:"values"`
	}
	if err := r.c.get(ctx, "rest/servicedeskapi/servicedesk?limit=100", &page); err != nil {
		var e *evident.Error
		if errors.As(err, &e) && (e.Code == evident.ENOTFOUND || e.Code == evident.EFORBIDDEN) {
			return nil
		}
		return err
	}
	for _, d := range page.Values {
		for _, key := range r.cfg.Projects {
			if key == d.ProjectKey {
				r.desks[key] = true
			}
		}
	}
	return nil
}

// serviceDeskFeedback fetches the CSAT feedback of the resolved requests
// this run fetched and stores it as survey answers (scale csat), keyed by
// site and issue so that a re-sync replaces, never duplicates.
func (r *run) serviceDeskFeedback(ctx context.Context) error {
	if len(r.resolved) == 0 {
		return nil
	}
	keys := make([]string, 0, len(r.resolved))
	for k := range r.resolved {
		keys = append(keys, k)
	}
	var mu sync.Mutex
	var rows []evident.SatisfactionResponse
	err := r.fanOut(ctx, len(keys), func(ctx context.Context, n int) error {
		key := keys[n]
		var fb struct {
			Type    string `json:"type"`
			Rating  int    `json:"rating"`
			Comment struct {
				Body string `json:"body"`
			} `json:"comment"`
		}
		err := r.c.get(ctx, "rest/servicedeskapi/request/"+url.PathEscape(key)+"/feedback", &fb)
		var e *evident.Error
		switch {
		case errors.As(err, &e) && e.Code == evident.ENOTFOUND:
			return nil // no feedback given
		case err != nil:
			return err
		case fb.Rating < 1 || fb.Rating > 5:
			r.problem(key, "feedback", fmt.Sprintf("rating %d is not on the 1–5 CSAT scale", fb.Rating))
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, evident.SatisfactionResponse{ResponseID: "jsm:" + r.cfg.Name + ":" + key, RespondedAt: r.resolved[key].UTC(),
			Scale: "csat", Score: int16(fb.Rating), Product: strings.SplitN(key, "-", 2)[0], Comment: fb.Comment.Body,
			Source: "jira-service-management", Version: r.version})
		return nil
	})
	r.resolved = map[string]time.Time{}
	if err != nil {
		return err
	}
	return r.s.Store.InsertSatisfaction(ctx, rows)
}
