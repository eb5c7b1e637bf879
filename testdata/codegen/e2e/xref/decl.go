// Package xref has events only in its external test package, whose result types are the package's
// own types and one that only its in-package test files export.
package xref

// Item is a result type of the package.
type Item struct {
	SKU string `json:"sku"`
}

type hidden struct {
	Secret string `json:"secret"`
}
