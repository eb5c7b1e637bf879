// Package structs declares events whose results are structs: tags, omitempty, skipped and unexported
// fields, embedded structs, nested structs and the ",string" option.
package structs

import "github.com/typedbus/abxbus-go/abxbus"

type Region struct {
	ID      string  `json:"id"`
	Label   string  `json:"label"`
	Score   float64 `json:"score"`
	Visible bool    `json:"visible"`
}

type Audit struct {
	CreatedBy string `json:"created_by"`
	Note      string `json:"note,omitempty"`
}

type Screenshot struct {
	ImageURL   string             `json:"image_url"`
	Width      int                `json:"width"`
	Height     int                `json:"height"`
	Tags       []string           `json:"tags"`
	IsAnimated bool               `json:"is_animated"`
	Scores     []float64          `json:"confidence_scores"`
	Metadata   map[string]float64 `json:"metadata"`
	Regions    []Region           `json:"regions"`
	Audit
	Secret   string `json:"-"`
	internal int
	Untagged string
	Big      int64  `json:"big,string"`
	Optional string `json:"optional,omitzero"`
}

type TakeScreenshot struct {
	abxbus.Returns[Screenshot]
	URL string `json:"url"`
}

type Empty struct{}

type Ack struct {
	abxbus.Returns[Empty]
}

type Inline struct {
	abxbus.Returns[struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}]
}

// Base is embedded by pointer: when it is nil, encoding/json writes none of its fields (issue 11 item 6).
type Base struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// Invoice{} writes null for its nil slice, map and []byte (issue 11 item 6).
type Invoice struct {
	*Base
	Number string            `json:"number"`
	Lines  []Line            `json:"lines"`
	Totals map[string]int64  `json:"totals"`
	PDF    []byte            `json:"pdf"`
	Notes  [][]string        `json:"notes"`
	Meta   map[string]string `json:"meta,omitempty"`
}

type Line struct {
	SKU string `json:"sku"`
	Qty uint32 `json:"qty"`
}

type Bill struct {
	abxbus.Returns[Invoice]
}
