// Package loggen writes realistic, deterministic log lines for tests,
// benchmarks, the demo and the committed corpus in testdata/logs.
//
// Every generator is a pure function of its arguments: the same (n, seed,
// start) always yields the same bytes, on any machine and any Go release.
// Nothing reads the wall clock or the global random source. Timestamps start
// at start, only move forward, and are written in start's location.
//
// The generators are meant to produce million-line benchmark corpora in well
// under a second, so lines are built by appending into one reused buffer with
// strconv and time.AppendFormat (no fmt), and written through a bufio.Writer.
package loggen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"strconv"
)

// rng draws from PCG directly rather than through rand.Rand. PCG-DXSM is a
// fixed, documented algorithm, whereas the way rand.Rand maps raw bits onto
// ranges may change between Go releases; that would silently rewrite the
// committed corpus and its golden hashes.
type rng struct {
	pcg *rand.PCG
}

// seedStream is the second half of the PCG state. Fixing it keeps the public
// API to one seed while still mixing it into all 128 bits of state.
const seedStream = 0x6c6f676d65747269 // "logmetri"

func newRNG(seed uint64) *rng {
	return &rng{pcg: rand.NewPCG(seed, seedStream)}
}

// intn returns a value in [0, n) by multiply-shift. Its bias is at most
// n/2^64, far below anything a log corpus could show.
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("bug: loggen intn with n <= 0")
	}
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int {
	return lo + r.intn(hi-lo+1)
}

// percent reports true with probability p/100.
func (r *rng) percent(p int) bool {
	return r.intn(100) < p
}

func (r *rng) pick(list []string) string {
	return list[r.intn(len(list))]
}

// weighted is a table of values with relative weights, drawn by pick.
type weighted[T any] struct {
	vals  []T
	cum   []int // running totals of the weights
	total int
}

func newWeighted[T any](pairs ...wv[T]) *weighted[T] {
	w := &weighted[T]{}
	for _, p := range pairs {
		if p.w <= 0 {
			panic("bug: loggen weight <= 0")
		}
		w.total += p.w
		w.vals = append(w.vals, p.v)
		w.cum = append(w.cum, w.total)
	}
	return w
}

// wv is one weighted value.
type wv[T any] struct {
	w int
	v T
}

func (w *weighted[T]) pick(r *rng) T {
	x := r.intn(w.total)
	for i, c := range w.cum {
		if x < c {
			return w.vals[i]
		}
	}
	panic("bug: loggen weighted pick out of range")
}

// ErrNegativeCount is returned when a generator is asked for fewer than zero
// lines, which is always a caller's arithmetic mistake.
var ErrNegativeCount = errors.New("loggen: negative line count")

// lineFunc appends one line, including its final newline, to buf.
type lineFunc func(buf []byte) []byte

// write runs next n times and writes each line through a bufio.Writer. It
// stops at the first write error so that a closed pipe does not keep a
// million-line run spinning.
func write(w io.Writer, n int, next lineFunc) error {
	if n < 0 {
		return fmt.Errorf("%w: %d", ErrNegativeCount, n)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 1024)
	for range n {
		buf = next(buf[:0])
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("loggen: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("loggen: write: %w", err)
	}
	return nil
}

// appendFrac appends v/10^digits as a decimal with exactly digits digits
// after the point, e.g. appendFrac(b, 13, 3) is "0.013". It formats fixed
// point values exactly, which strconv's float formatting cannot promise.
func appendFrac(b []byte, v int, digits int) []byte {
	div := 1
	for range digits {
		div *= 10
	}
	b = strconv.AppendInt(b, int64(v/div), 10)
	b = append(b, '.')
	frac := v % div
	for d := div / 10; d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// appendTenths appends v/10 with one decimal but drops a ".0", the way a
// human-friendly logger prints 12.5 and 250.
func appendTenths(b []byte, v int) []byte {
	b = strconv.AppendInt(b, int64(v/10), 10)
	if v%10 != 0 {
		b = append(b, '.', byte('0'+v%10))
	}
	return b
}

// appendIPv4 appends a.b.c.d.
func appendIPv4(b []byte, a, bb, c, d int) []byte {
	b = strconv.AppendInt(b, int64(a), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(bb), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(d), 10)
}

// docNets are the RFC 5737 documentation ranges, so no generated line ever
// names a real host.
var docNets = [...][3]int{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}

// appendDocIPv4 appends a random address from docNets.
func appendDocIPv4(b []byte, r *rng) []byte {
	n := docNets[r.intn(len(docNets))]
	return appendIPv4(b, n[0], n[1], n[2], r.between(1, 254))
}

// ipPool is a fixed set of client addresses drawn once per run. Real traffic
// comes from a few busy clients and a long tail, so picks are skewed towards
// the front of the pool.
type ipPool []string

func newIPPool(r *rng, n int, ipv6Percent int) ipPool {
	p := make(ipPool, n)
	for i := range p {
		if r.percent(ipv6Percent) {
			// RFC 3849 documentation prefix.
			b := []byte("2001:db8:")
			b = strconv.AppendInt(b, int64(r.between(1, 0xffff)), 16)
			b = append(b, "::"...)
			b = strconv.AppendInt(b, int64(r.between(1, 0xffff)), 16)
			p[i] = string(b)
			continue
		}
		p[i] = string(appendDocIPv4(nil, r))
	}
	return p
}

func (p ipPool) pick(r *rng) string {
	// The smaller of two draws favours low indexes.
	i, j := r.intn(len(p)), r.intn(len(p))
	return p[min(i, j)]
}
