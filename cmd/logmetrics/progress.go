package main

import (
	"fmt"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEvery is how often backfill logs its progress when stderr is not
// a terminal (a log file, a CI job): a line every few seconds is enough
// to see that it moves and when it will be done.
const progressEvery = 5 * time.Second

// progressTick is how often the bar on a terminal is redrawn.
const progressTick = 200 * time.Millisecond

// progress shows how far the backfill got, over the bytes on disk of its
// inputs (compressed bytes for archives): a bar on a terminal, else a log
// line every progressEvery. The returned func stops it.
func (b *backfill) progress() (stop func()) {
	f, ok := b.e.stderr.(*os.File)
	onTerminal := ok && term.IsTerminal(int(f.Fd()))
	var bar *progressbar.ProgressBar
	every := progressEvery
	if onTerminal {
		every = progressTick
		bar = progressbar.NewOptions64(b.total,
			progressbar.OptionSetWriter(f),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(progressTick),
			progressbar.OptionClearOnFinish(),
		)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					bar.Finish()
				}
				return
			case <-tick.C:
			}
			read := b.bytesRead()
			lines, points := b.counts()
			secs := time.Since(b.start).Seconds()
			if bar != nil {
				bar.Describe(fmt.Sprintf("%.0f lines/s, %.0f points/s", float64(lines)/secs, float64(points)/secs))
				bar.Set64(read)
				continue
			}
			eta := "unknown"
			if read > 0 {
				eta = time.Duration(float64(time.Since(b.start)) * float64(b.total-read) / float64(read)).Round(time.Second).String()
			}
			b.log.Warn("backfill progress", "read_bytes", read, "total_bytes", b.total,
				"lines_per_s", int64(float64(lines)/secs), "points_per_s", int64(float64(points)/secs), "eta", eta)
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// bytesRead is the bytes on disk read so far.
func (b *backfill) bytesRead() int64 {
	n := b.doneBytes.Load()
	if r := b.reading.Load(); r != nil {
		n += r.Consumed()
	}
	return min(n, b.total)
}

// counts returns the lines extracted and the points made so far.
func (b *backfill) counts() (lines, points uint64) {
	st := b.st.ex.Stats()
	for _, s := range st.Sources {
		lines += s.Lines
	}
	for _, r := range st.Rules {
		points += r.Points
	}
	return lines, points
}

// summary prints, per source and rule, what the backfill did, then the
// sink's totals, and after an interrupt where reading stopped.
func (b *backfill) summary() {
	w := b.e.stderr
	st := b.st.ex.Stats()
	used := map[string]bool{}
	for _, in := range b.inputs {
		used[in.source] = true
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\trule\tfiles\tlines\ttaken\tnot taken\tfiltered\tpoints\toutside window\tbad value\tmissing\tbad time\tdropped\t")
	lines := map[string]uint64{}
	for _, s := range st.Sources {
		lines[s.Source] = s.Lines
	}
	for _, r := range st.Rules {
		if !used[r.Source] {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Source, r.Rule, b.filesRead[r.Source], lines[r.Source],
			r.Taken, r.NotTaken, r.Filtered, r.Points, r.OutsideWindow, r.ConversionErrors+r.CompositeValues, r.Missing, r.TimeErrors,
			r.NoFields+r.SeriesTooLong)
	}
	tw.Flush()
	printRuleNotes(w, st, used)
	total, _ := b.counts()
	ss := b.st.sk.Stats()
	verb := "written"
	if b.dry {
		verb = "would be written (dry run, -n)"
	}
	fmt.Fprintf(w, "\n%d points %s, %d dead-lettered, %d dropped; %d lines in %v (%.0f lines/s)\n",
		ss.PointsWritten, verb, ss.DeadLettered.Refused+ss.DeadLettered.TooLarge,
		ss.Dropped.Refused+ss.Dropped.TooLarge+ss.Dropped.Invalid+ss.Dropped.DeadLetterFailed,
		total, b.wall.Round(time.Millisecond), float64(total)/max(b.wall.Seconds(), 1e-9))
	if ss.PointsAltered > 0 {
		fmt.Fprintf(w, "%d points %s with bytes line protocol cannot carry replaced by U+FFFD (see the README's Line protocol)\n", ss.PointsAltered, verb)
	}
	for _, r := range st.Rules {
		if used[r.Source] && r.Displaced > 0 {
			fmt.Fprintf(w, "%s: %d points written after times the collision separator had forgotten (see the README's Colliding points)\n", r.Rule, r.Displaced)
		}
	}
	for source, n := range b.tooLong {
		if n > 0 {
			fmt.Fprintf(w, "%s: %d lines longer than the line limit (max_line_bytes) were skipped\n", source, n)
		}
	}
	printJoined(w, b.joined)
	if len(b.failed) > 0 {
		fmt.Fprintf(w, "%d files could not be read whole: %v\n", len(b.failed), b.failed)
	}
	if b.interrupted.Load() {
		b.mu.Lock()
		at := b.at
		b.mu.Unlock()
		_, points := b.counts()
		// As run's shortfall counts it: written, set aside or dropped.
		delivered := b.st.sk.Delivered().Points
		fmt.Fprintf(w, "interrupted: reading stopped in %s at offset %d; %d of the %d points read were not delivered. "+
			"A backfill of the same files again writes the same points.\n", at.Path, at.Offset, points-min(points, delivered), points)
	}
}
