package console

// Charts are drawn on the server as inline SVG: no script, no library,
// readable by screen readers through role="img" and a <title>.

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"sort"
	"strings"

	"atrium"
	"atrium/httpapi"
	"atrium/resource"
)

// palette is colour-blind safe (Okabe–Ito) and dark enough on white.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

func esc(s string) string { return html.EscapeString(s) }

// amount is the figure a usage bar shows: GPUs for a GPU type, else cores.
func amount(u httpapi.UsageVector, gpu bool) float64 {
	if gpu {
		return float64(u.GPU)
	}
	m, _ := resource.ParseCPU(u.CPU)
	return float64(m) / 1000
}

// usageBar draws used / min / max / borrowed of one gpuType of a quota.
func usageBar(u httpapi.QuotaUsage) template.HTML {
	gpu := u.GPUType != ""
	unit := "CPU cores"
	if gpu {
		unit = u.GPUType + " GPUs"
	}
	used, minV, borrowed := amount(u.Used, gpu), amount(u.Min, gpu), amount(u.Borrowed, gpu)
	maxV := -1.0
	if u.Max != nil {
		maxV = amount(*u.Max, gpu)
	}
	scale := max(maxV, used, minV, 1)
	const w, h = 320.0, 18.0
	x := func(v float64) float64 { return w * v / scale }
	label := fmt.Sprintf("%s: used %s, min %s, max %s, borrowed %s", unit, num(used), num(minV), maxLabel(maxV), num(borrowed))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, h, w, h, esc(label), esc(label))
	fmt.Fprintf(&b, `<rect width="%.1f" height="%.0f" fill="#e8eaed"/>`, w, h)
	if maxV >= 0 {
		fmt.Fprintf(&b, `<rect width="%.1f" height="%.0f" fill="#d2e3fc"/>`, x(maxV), h)
	}
	fmt.Fprintf(&b, `<rect width="%.1f" height="%.0f" fill="#0b57d0"/>`, x(used-borrowed), h)
	if borrowed > 0 {
		fmt.Fprintf(&b, `<rect x="%.1f" width="%.1f" height="%.0f" fill="#D55E00"/>`, x(used-borrowed), x(borrowed), h)
	}
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="0" y2="%.0f" stroke="#1b1f24" stroke-width="2"/></svg>`, x(minV), x(minV), h)
	return template.HTML(b.String())
}

func maxLabel(v float64) string {
	if v < 0 {
		return "none"
	}
	return num(v)
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// memberChart draws GPU-hours per member as horizontal bars, or CPU
// core-hours when no GPU was used (CPU-only clusters).
func memberChart(rep *httpapi.UsageReport) template.HTML {
	if rep == nil || len(rep.Items) == 0 {
		return template.HTML(`<p class="muted">Nothing ran in the last 7 days.</p>`)
	}
	value, unit := func(it httpapi.UsageItem) float64 { return it.GPUHours }, "GPU·h"
	if rep.Total.GPUHours == 0 {
		value, unit = func(it httpapi.UsageItem) float64 { return it.CPUCoreHours }, "core·h"
	}
	top := 0.0
	for _, it := range rep.Items {
		top = max(top, value(it))
	}
	top = max(top, 0.01)
	const rowH, labelW, barW = 24.0, 140.0, 260.0
	hgt := rowH * float64(len(rep.Items))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%.0f" height="%.0f" role="img" aria-label="%s per member, last 7 days"><title>%s per member, last 7 days</title>`, labelW+barW+90, hgt, unit, unit)
	for i, it := range rep.Items {
		y, v := float64(i)*rowH, value(it)
		fmt.Fprintf(&b, `<text x="0" y="%.0f" class="lbl">%s</text>`, y+16, esc(cmp.Or(it.Key, "(none)")))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.1f" height="16" fill="%s"/>`, labelW, y+4, barW*v/top, palette[0])
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="lbl">%s %s</text>`, labelW+barW*v/top+6, y+16, num(round2(v)), unit)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// dailyChart draws GPU-hours (or, when no GPU was used, CPU core-hours)
// per day stacked by quota.
func dailyChart(days []dayUsage, quotas []*httpapi.QuotaView) template.HTML {
	unit, gpu := "core·h", false
	for _, d := range days {
		for _, v := range d.GPU {
			gpu = gpu || v > 0
		}
	}
	if gpu {
		unit = "GPU·h"
	}
	value := func(d dayUsage, k string) float64 {
		if gpu {
			return d.GPU[k]
		}
		return d.CPU[k]
	}
	names := map[string]string{}
	for _, q := range quotas {
		names[q.ID] = q.Name
	}
	keys := map[string]bool{}
	top := 0.0
	for _, d := range days {
		sum := 0.0
		for k := range d.CPU {
			keys[k] = true
			sum += value(d, k)
		}
		top = max(top, sum)
	}
	if len(days) == 0 {
		return ""
	}
	order := make([]string, 0, len(keys))
	for k := range keys {
		order = append(order, k)
	}
	sort.Strings(order)
	top = max(top, 0.01)
	const plotH, colW, left = 120.0, 44.0, 48.0
	width := left + colW*float64(len(days)) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%.0f" height="%.0f" role="img" aria-label="%s per day by quota, last 7 days"><title>%s per day by quota, last 7 days</title>`, width, plotH+40, unit, unit)
	fmt.Fprintf(&b, `<text x="0" y="12" class="lbl">%s</text><text x="0" y="%.0f" class="lbl">0</text>`, num(round2(top)), plotH+4)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="#5f6368"/>`, left-4, width, plotH+4, plotH+4)
	for i, d := range days {
		x, y := left+float64(i)*colW, plotH+4
		for j, k := range order {
			hgt := plotH * value(d, k) / top
			if hgt <= 0 {
				continue
			}
			y -= hgt
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.0f" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>`,
				x, y, colW-10, hgt, palette[j%len(palette)], d.Day.Format("Jan 2"), esc(cmp.Or(names[k], k)), num(round2(value(d, k))), unit)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="lbl">%s</text>`, x, plotH+22, d.Day.Format("01-02"))
	}
	b.WriteString(`</svg><ul class="legend">`)
	for j, k := range order {
		fmt.Fprintf(&b, `<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="%s"/></svg> %s</li>`, palette[j%len(palette)], esc(cmp.Or(names[k], k)))
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String())
}

// lineageGraph draws where a model version came from: its inputs (dataset
// versions, code, image) → the job → the version.
func lineageGraph(l *httpapi.LineageView) template.HTML {
	if l == nil {
		return ""
	}
	var inputs []string
	for _, d := range l.DataSources {
		inputs = append(inputs, "dataset "+cmp.Or(d.DatasetName, cmp.Or(d.URI, d.DatasetID))+cmpOrPrefix(" v", d.Version))
	}
	if l.CodeSource != nil {
		inputs = append(inputs, "code "+l.CodeSource.Name)
	}
	if l.Image != "" {
		inputs = append(inputs, "image "+l.Image)
	}
	job := "registered by hand"
	if l.Job != nil {
		job = "job " + cmp.Or(l.Job.DisplayName, l.Job.ID) + " (" + l.Job.Status + ")"
	}
	out := "model version " + l.Version.VersionName
	const boxW, boxH, gap = 230.0, 30.0, 12.0
	n := max(len(inputs), 1)
	hgt := float64(n)*(boxH+gap) + gap
	midY := hgt/2 - boxH/2
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%.0f" height="%.0f" role="img" aria-label="lineage"><title>Lineage of version %s</title>`, 3*boxW+120, hgt, esc(l.Version.VersionName))
	box := func(x, y float64, text, fill string) {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="6" fill="%s" stroke="#5f6368"/><text x="%.0f" y="%.0f" class="lbl">%s</text>`,
			x, y, boxW, boxH, fill, x+8, y+20, esc(clip(text, 32)))
	}
	for i, in := range inputs {
		y := gap + float64(i)*(boxH+gap)
		box(0, y, in, "#e6f4ea")
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#5f6368" marker-end="url(#arrow)"/>`, boxW, y+boxH/2, boxW+60, midY+boxH/2)
	}
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#5f6368"/></marker></defs>`)
	box(boxW+60, midY, job, "#e8f0fe")
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#5f6368" marker-end="url(#arrow)"/>`, 2*boxW+60, midY+boxH/2, 2*boxW+120, midY+boxH/2)
	box(2*boxW+120, midY, out, "#fef7e0")
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func cmpOrPrefix(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// dagGraph draws a pipeline run: nodes in columns by depth (inputs wired
// from other nodes and dependsOn make the edges), coloured by status.
func dagGraph(r *atrium.PipelineRun) template.HTML {
	if r == nil || len(r.Spec.Nodes) == 0 {
		return ""
	}
	status := map[string]string{}
	for _, n := range r.Nodes {
		status[n.Name] = n.Status
	}
	ups := map[string][]string{}
	for _, n := range r.Spec.Nodes {
		for _, in := range n.Inputs {
			if from, _, ok := strings.Cut(in.From, "."); ok && from != "" {
				ups[n.Name] = append(ups[n.Name], from)
			}
		}
		ups[n.Name] = append(ups[n.Name], n.DependsOn...)
	}
	depth := map[string]int{}
	var depthOf func(name string, seen int) int
	depthOf = func(name string, seen int) int {
		if d, ok := depth[name]; ok || seen > len(r.Spec.Nodes) {
			return d
		}
		d := 0
		for _, u := range ups[name] {
			d = max(d, depthOf(u, seen+1)+1)
		}
		depth[name] = d
		return d
	}
	cols := map[int][]string{}
	maxCol, maxRow := 0, 0
	for _, n := range r.Spec.Nodes {
		d := depthOf(n.Name, 0)
		cols[d] = append(cols[d], n.Name)
		maxCol, maxRow = max(maxCol, d), max(maxRow, len(cols[d]))
	}
	const boxW, boxH, gapX, gapY = 150.0, 34.0, 60.0, 16.0
	pos := map[string][2]float64{}
	for d, names := range cols {
		for i, n := range names {
			pos[n] = [2]float64{float64(d) * (boxW + gapX), gapY + float64(i)*(boxH+gapY)}
		}
	}
	fill := map[string]string{"ok": "#e6f4ea", "bad": "#fce8e6", "wait": "#fef7e0", "neutral": "#f1f3f4"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%.0f" height="%.0f" role="img" aria-label="pipeline graph"><title>Nodes of run %s and how data flows between them</title>`,
		float64(maxCol+1)*(boxW+gapX), float64(maxRow)*(boxH+gapY)+gapY, esc(r.ID))
	b.WriteString(`<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#5f6368"/></marker></defs>`)
	for _, n := range r.Spec.Nodes {
		to := pos[n.Name]
		for _, u := range ups[n.Name] {
			from, ok := pos[u]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#5f6368" marker-end="url(#dag-arrow)"/>`,
				from[0]+boxW, from[1]+boxH/2, to[0], to[1]+boxH/2)
		}
	}
	for _, n := range r.Spec.Nodes {
		p, st := pos[n.Name], cmp.Or(status[n.Name], "Pending")
		fmt.Fprintf(&b, `<g><title>%s: %s</title><rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="6" fill="%s" stroke="#5f6368"/><text x="%.0f" y="%.0f" class="lbl">%s</text><text x="%.0f" y="%.0f" class="lbl">%s</text></g>`,
			esc(n.Name), esc(st), p[0], p[1], boxW, boxH, fill[statusClass(st)], p[0]+8, p[1]+14, esc(clip(n.Name, 20)), p[0]+8, p[1]+28, esc(st))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
