package xref

// Hidden exports hidden to the external test package only.
type Hidden = hidden
