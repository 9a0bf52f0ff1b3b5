package extract

import (
	"context"
	"reflect"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Reloading the rules while Run or RunParallel runs.
//
// The new rules come in line order, as a marker Line whose Rules is the
// *Extractor Compile made of them (the tailer sends it after every line it
// read before the reload): the lines before the marker are extracted with
// the old rules, every line after it with the new ones. RunParallel cuts
// its chunks at the marker and lets no chunk after it be matched before
// the marker is applied (readChunks), so the swap is exact there too.
//
// What carries over. The running Extractor stays: its separator (the
// collision nudges of every file), the files' holds and every source's
// watermark survive the reload. A source of the same name keeps its state
// and counters; in it, a rule whose configuration and source tags are
// unchanged keeps its compiled form, counters and open aggregation windows.
// A rule removed or changed is retired: its counts stay in Stats, and its
// open windows are closed at the marker and written as they are, as Idle
// writes those of a quiet source. The rule that replaces it starts with no
// window, so the window in progress at the reload is written twice with
// the same time, once with the lines before the reload and once with those
// after; InfluxDB keeps the later value of each field.

// Applied is closed once the rules of e, compiled for a reload, apply to
// the lines of the Extractor they were handed to: for the caller that
// reports how long a reload took.
func (e *Extractor) Applied() <-chan struct{} { return e.applied }

// reload applies next, the Rules of a marker Line, at its place in line
// order, and sends the windows of the rules it retires. It returns false
// once ctx is done.
func (e *Extractor) reload(ctx context.Context, next any, out chan<- pipeline.Record) bool {
	n, ok := next.(*Extractor)
	if !ok || n == e {
		panic("bug: a reload marker without compiled rules")
	}
	rec := pipeline.Record{Points: e.recycle.Get()}
	e.swap(n, &rec)
	close(n.applied)
	if len(rec.Points) == 0 {
		e.recycle.Put(rec.Points)
		return true
	}
	return e.send(ctx, &rec, out) && (!e.checkpointing || e.checkpoints(ctx, out))
}

// swap replaces e's rules with next's, keeping the state of what did not
// change (see above), and appends the points of the windows it closes to
// rec.
func (e *Extractor) swap(next *Extractor, rec *pipeline.Record) {
	e.rulesMu.Lock()
	defer e.rulesMu.Unlock()
	oldConf := confByName(e.conf)
	sources := make(map[string]*source, len(next.order))
	order := make([]*source, 0, len(next.order))
	aggregates := false
	for i, ns := range next.order {
		nc := next.conf.Sources[i]
		src := e.sources[ns.name]
		if src == nil {
			src = ns
		} else {
			oc := oldConf[ns.name]
			src.rules, src.aggs = e.keepRules(src, oc, ns, nc, rec)
			src.pending = ns.pending
			delete(e.sources, ns.name)
		}
		sources[src.name], order = src, append(order, src)
		aggregates = aggregates || len(src.aggs) > 0
	}
	for _, src := range e.order { // the sources removed
		if e.sources[src.name] != src {
			continue
		}
		for _, r := range src.aggs {
			e.closeAll(r, rec)
		}
		src.aggs = nil
		e.retired = append(e.retired, src)
	}
	e.sources, e.order, e.conf = sources, order, next.conf
	e.aggregates = aggregates
	e.maxNames = max(e.maxNames, next.maxNames)
	e.gen++
	e.w.renew(e)
}

// keepRules returns the rules of src after a reload to nc, whose compiled
// rules are ns's: a rule unchanged since oc keeps its old compiled form;
// the old rules not kept are retired, their windows closed into rec.
func (e *Extractor) keepRules(src *source, oc Source, ns *source, nc Source, rec *pipeline.Record) (rules, aggs []*rule) {
	sameTags := reflect.DeepEqual(oc.Tags, nc.Tags)
	kept := map[*rule]bool{}
	for i, nr := range ns.rules {
		r := nr
		if sameTags {
			for j, or := range src.rules {
				if or.name == nr.name && !kept[or] && reflect.DeepEqual(oc.Rules[j], nc.Rules[i]) {
					r = or
					break
				}
			}
		}
		kept[r] = true
		rules = append(rules, r)
		if r.agg != nil {
			aggs = append(aggs, r)
		}
	}
	for _, r := range src.rules {
		if kept[r] {
			continue
		}
		if r.agg != nil {
			e.closeAll(r, rec)
		}
		src.retired = append(src.retired, r)
	}
	return rules, aggs
}

func confByName(c Config) map[string]Source {
	m := make(map[string]Source, len(c.Sources))
	for _, s := range c.Sources {
		m[s.Name] = s
	}
	return m
}
