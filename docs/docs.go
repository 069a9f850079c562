// Package docs holds the documents the dashboard serves itself, so that a
// dashboard without internet access still explains its numbers.
package docs

import _ "embed"

// Metrics is docs/metrics.md: the definition of every number.
//
//go:embed metrics.md
var Metrics string
