//go:build !unix

package jsonl

import "os"

// idOf is unknown on this platform: a cursor is then matched by its fingerprint only, and a file
// rotated while no reader ran is not looked for.
func idOf(os.FileInfo) fileID { return fileID{} }
