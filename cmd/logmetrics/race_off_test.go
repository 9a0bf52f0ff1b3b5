//go:build !race

package main

// raceEnabled: the agent under test is this test binary, built without
// the race detector.
const raceEnabled = false
