package dashboard

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/evident-ebm/evident/metrics"
	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
)

// assetsPath is where the embedded echarts is served: go-echarts' AssetsHost.
const assetsPath = "/assets/"

// Chart is a rendered chart: its element, its script, and its data as a
// table for people who read numbers rather than pictures.
type Chart struct {
	ID      string
	Title   string
	Help    string
	Element template.HTML
	Script  template.HTML
	Table   Table
	CSV     string // link to the chart's data as CSV
	Empty   string // shown instead of the chart when there is no data
	// Trust says what the chart rests on, when it is one measure's.
	Trust *metrics.Trust
}

// Table is a chart's data.
type Table struct {
	Head []string
	Rows [][]string
}

type snippetRenderer interface {
	RenderSnippet() render.ChartSnippet
}

// snippet renders a go-echarts chart into the page's own template. The
// script's JSON is written by go-echarts without HTML escaping, so every
// "<" in it (only ever inside strings: Jira summaries, names) becomes
// \u003c: no text from Jira can close the script element.
func snippet(c snippetRenderer) (template.HTML, template.HTML) {
	sn := c.RenderSnippet()
	script := sn.Script
	open := strings.Index(script, ">") + 1
	end := strings.LastIndex(script, "</script>")
	if open > 0 && end > open {
		body := strings.ReplaceAll(script[open:end], "<", `\u003c`)
		script = script[:open] + body + script[end:]
	}
	return template.HTML(sn.Element), template.HTML(script) // #nosec: sanitised above; element holds only the id and size
}

// base holds what every chart shares: local assets, size, no animation
// delay on a wall display.
func base(id, height string) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: "100%", Height: height, AssetsHost: assetsPath, Renderer: "canvas"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithAnimation(false),
	}
}

func f2s(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func p2s(v *float64) string {
	if v == nil {
		return ""
	}
	return f2s(*v)
}
