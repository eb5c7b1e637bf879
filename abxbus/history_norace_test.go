//go:build !race

package abxbus_test

// histRaceBuild reports a -race build: the soak test scales down (the detector slows the bus ~10x).
const histRaceBuild = false
