//go:build race

package abxbus

// raceEnabled reports a -race build (internal tests scale their loops down).
const raceEnabled = true
