//go:build race

package main

// raceEnabled: the agent under test is this test binary, built with the
// race detector, whose shadow memory multiplies the heap's RSS.
const raceEnabled = true
