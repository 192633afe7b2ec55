package ginsession

import "strconv"

// The enums' String methods (observe.go, state.go, response.go) name their
// values from a table, so a metric label or a failing test prints a word.

// enumName returns names[v], or type(v) for a value without a name.
func enumName(typ string, names []string, v int) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(v) + ")"
}
