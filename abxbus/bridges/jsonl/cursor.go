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

// cursorFile stores a read position in a small JSON file, replaced atomically (a temporary file in
// the same directory, then a rename) on every save.
type cursorFile struct {
	path string
	last []byte // the content last written, to skip identical saves
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

// save writes p for the followed file at path.
func (c *cursorFile) save(path string, p position) error {
	data, err := json.Marshal(cursorJSON{File: path, Dev: p.id.dev, Ino: p.id.ino, Offset: p.offset,
		FingerprintLen: p.windowLen(), Fingerprint: hex.EncodeToString(p.digest())})
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if bytes.Equal(data, c.last) {
		return nil
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return err
	}
	c.last = data
	return nil
}
