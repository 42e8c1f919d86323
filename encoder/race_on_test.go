//go:build race

package encoder

// raceEnabled shortens the slowest loops under the race detector.
const raceEnabled = true
