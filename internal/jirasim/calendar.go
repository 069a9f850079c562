// The sprints of the scrum boards and the fix versions of the projects:
// a calendar every issue's history refers to.

package jirasim

import (
	"fmt"
	"math"
	"time"
)

const sprintLength = 14 * 24 * time.Hour

// sprint schedule: every scrum board runs two-week sprints from g.start.
func (g *Generator) sprintIndexAt(t time.Time) int {
	return int(t.Sub(g.start) / sprintLength)
}

func (g *Generator) sprintID(board, k int) int { return board*1000 + k + 1 }

func (g *Generator) sprintStart(k int) time.Time {
	return g.start.Add(time.Duration(k)*sprintLength + 9*time.Hour)
}

func (g *Generator) sprintEnd(k int) time.Time {
	return g.sprintStart(k).Add(sprintLength - 2*time.Hour)
}

func (g *Generator) sprintComplete(k int) time.Time { return g.sprintEnd(k).Add(90 * time.Minute) }

// Sprints returns the sprints of a board, oldest first: closed ones, the
// active one and the next two future ones. Kanban boards have none.
func (g *Generator) Sprints(board int) []*Sprint {
	g.sprintsOnce.Do(g.makeSprints)
	return g.boardSprint[board]
}

// SprintByID returns a sprint.
func (g *Generator) SprintByID(id int) *Sprint {
	g.sprintsOnce.Do(g.makeSprints)
	return g.sprints[id]
}

var sprintGoals = []string{"Checkout without friction", "Ship the new onboarding", "Pay down flaky tests", "Faster search", "", "Prepare the Q-release", "Accessibility fixes", ""}

func (g *Generator) makeSprints() {
	g.sprints = map[int]*Sprint{}
	g.boardSprint = map[int][]*Sprint{}
	last := g.sprintIndexAt(g.cfg.Now) + 2
	for _, p := range g.projects {
		if p.Kanban {
			continue
		}
		for k := 0; k <= last; k++ {
			s := &Sprint{ID: g.sprintID(p.BoardID, k), BoardID: p.BoardID, seq: k,
				Name: fmt.Sprintf("%s Sprint %d", p.Key, k+1), Start: g.sprintStart(k), End: g.sprintEnd(k),
				Goal: sprintGoals[(k+p.BoardID)%len(sprintGoals)]}
			switch {
			case !g.sprintComplete(k).After(g.cfg.Now):
				s.State = "closed"
				s.Complete = g.sprintComplete(k)
			case !s.Start.After(g.cfg.Now):
				s.State = "active"
			default:
				s.State = "future"
			}
			g.sprints[s.ID] = s
			g.boardSprint[p.BoardID] = append(g.boardSprint[p.BoardID], s)
		}
	}
}

// Releases returns a project's fix versions: every two weeks for scrum
// projects, every four for kanban ones, the last two unreleased.
func (g *Generator) Releases(p *Project) []Release {
	g.releasesMu.Lock()
	defer g.releasesMu.Unlock()
	if r, ok := g.releases[p.Key]; ok {
		return r
	}
	if g.releases == nil {
		g.releases = map[string][]Release{}
	}
	out := g.makeReleases(p)
	g.releases[p.Key] = out
	return out
}

func (g *Generator) makeReleases(p *Project) []Release {
	var out []Release
	every := 14 * 24 * time.Hour
	if p.Kanban {
		every = 28 * 24 * time.Hour
	}
	for r := 0; ; r++ {
		d := g.releaseDate(p, r)
		rel := Release{ID: 20000 + (p.ID-10000)*1000 + r, Project: p.Key, Name: fmt.Sprintf("%s %d.%d", p.Name, 1+r/10, r%10), Date: d, Released: !d.After(g.cfg.Now)}
		out = append(out, rel)
		if d.After(g.cfg.Now.Add(2 * every)) {
			break
		}
	}
	return out
}

func (g *Generator) releaseEvery(p *Project) time.Duration {
	if p.Kanban {
		return 28 * 24 * time.Hour
	}
	return 14 * 24 * time.Hour
}

func (g *Generator) releaseDate(p *Project, r int) time.Time {
	return g.start.Add(time.Duration(r+1)*g.releaseEvery(p) + 3*24*time.Hour + 14*time.Hour)
}

// releaseAfter returns the index of the first release on or after t.
func (g *Generator) releaseAfter(p *Project, t time.Time) int {
	every := g.releaseEvery(p)
	r := int(math.Ceil(float64(t.Sub(g.start.Add(3*24*time.Hour+14*time.Hour)))/float64(every))) - 1
	if r < 0 {
		r = 0
	}
	for g.releaseDate(p, r).Before(t) {
		r++
	}
	return r
}
