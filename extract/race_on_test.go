//go:build race

package extract

// raceEnabled: under the race detector sync.Pool drops some of what it is
// given, so regexp's pooled matchers are allocated again now and then and
// allocation counts are not the ones a real build has.
const raceEnabled = true
