package jsonl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fileID identifies a file independently of its name (device and inode); zero when unknown.
type fileID struct{ dev, ino uint64 }

func (id fileID) zero() bool { return id == fileID{} }

// position is a read position: a file, an offset at the end of a handled line, and the bytes before it.
type position struct {
	id     fileID
	offset int64
	window []byte // the last ≤ tailLen bytes before offset (in a loaded cursor: nil, see hash)
	hash   []byte // sha256 of window, as stored
	wlen   int
}

func (p position) digest() []byte {
	if p.hash != nil {
		return p.hash
	}
	h := sha256.Sum256(p.window)
	return h[:]
}

func (p position) windowLen() int {
	if p.hash != nil {
		return p.wlen
	}
	return len(p.window)
}

// matches reports whether file f of the given size still holds the bytes before p.
func (p position) matches(f *os.File, size int64) bool {
	n := int64(p.windowLen())
	if p.offset > size || n > p.offset {
		return false
	}
	w := make([]byte, n)
	if _, err := f.ReadAt(w, p.offset-n); err != nil && n > 0 {
		return false
	}
	h := sha256.Sum256(w)
	return bytes.Equal(h[:], p.digest())
}

// findByID looks in path's directory for a regular file with identity id (a rotated file keeps its
// identity under its new name).
func findByID(path string, id fileID) *source {
	if id.zero() {
		return nil
	}
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || idOf(fi) != id {
			continue
		}
		if s, err := openSource(p); err == nil {
			if s.id == id {
				return s
			}
			s.close()
		}
	}
	return nil
}

// cursorFile stores a read position in a small JSON file. The file is created atomically (a temporary
// file, then a rename) and then rewritten in place: every save is one write of a record of fixed size
// (the JSON padded with spaces), at offset 0 of the open file, so that a process dying at any moment
// leaves either the previous or the new record. With sync the write is followed by an fsync.
type cursorFile struct {
	path string
	sync bool
	f    *os.File
	size int    // record size, fixed for the life of the file
	last []byte // the record last written, to skip identical saves
}

type cursorJSON struct {
	File           string `json:"file"`
	Dev            uint64 `json:"dev"`
	Ino            uint64 `json:"ino"`
	Offset         int64  `json:"offset"`
	FingerprintLen int    `json:"fingerprint_len"`
	Fingerprint    string `json:"fingerprint"`
}

// load reads the saved position; nil without error when the file does not exist.
func (c *cursorFile) load() (*position, error) {
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil // created, nothing saved yet
	}
	var j cursorJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("cursor file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("cursor file: data after the JSON object")
	}
	hash, err := hex.DecodeString(j.Fingerprint)
	switch {
	case err != nil || len(hash) != sha256.Size:
		return nil, fmt.Errorf("cursor file: fingerprint %q is not a hex SHA-256", j.Fingerprint)
	case j.Offset < 0:
		return nil, fmt.Errorf("cursor file: negative offset %d", j.Offset)
	case j.FingerprintLen < 0 || j.FingerprintLen > tailLen || int64(j.FingerprintLen) > j.Offset:
		return nil, fmt.Errorf("cursor file: fingerprint_len %d out of range for offset %d", j.FingerprintLen, j.Offset)
	}
	return &position{id: fileID{dev: j.Dev, ino: j.Ino}, offset: j.Offset, hash: hash, wlen: j.FingerprintLen}, nil
}

// recordSize is the fixed size of a record for the followed file at path: room for the largest values
// of every field, rounded up to 512 bytes.
func recordSize(path string) int {
	max, _ := json.Marshal(cursorJSON{File: path, Dev: ^uint64(0), Ino: ^uint64(0), Offset: 1<<63 - 1,
		FingerprintLen: tailLen, Fingerprint: strings.Repeat("0", 2*sha256.Size)})
	return (len(max) + 1 + 511) / 512 * 512
}

// save writes p for the followed file at path.
func (c *cursorFile) save(path string, p position) error {
	data, err := json.Marshal(cursorJSON{File: path, Dev: p.id.dev, Ino: p.id.ino, Offset: p.offset,
		FingerprintLen: p.windowLen(), Fingerprint: hex.EncodeToString(p.digest())})
	if err != nil {
		return err
	}
	if c.f == nil {
		if err := c.open(path); err != nil {
			return err
		}
	}
	rec := make([]byte, c.size)
	n := copy(rec, data)
	for i := n; i < len(rec)-1; i++ {
		rec[i] = ' '
	}
	rec[len(rec)-1] = '\n'
	if bytes.Equal(rec, c.last) {
		return nil
	}
	if _, err := c.f.WriteAt(rec, 0); err != nil {
		return err
	}
	if c.sync {
		if err := c.f.Sync(); err != nil {
			return err
		}
	}
	c.last = rec
	return nil
}

// open makes sure the cursor file holds one record of the fixed size (creating it atomically with a
// blank record when needed) and opens it for the in-place saves.
func (c *cursorFile) open(path string) error {
	c.size = recordSize(path)
	if fi, err := os.Stat(c.path); err != nil || fi.Size() != int64(c.size) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		blank := bytes.Repeat([]byte{' '}, c.size)
		blank[c.size-1] = '\n'
		tmp := c.path + ".tmp"
		if err := os.WriteFile(tmp, blank, 0o644); err != nil {
			return err
		}
		if c.sync {
			if err := syncFile(tmp); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, c.path); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	c.f = f
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *cursorFile) close() {
	if c != nil && c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
