package history

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// FaultContext names the faults that overlapped a violation: those active
// at some point between the start of its cause (or of the violating
// operation, when it has none) and the end of the violating operation,
// by the first word of their Note ("kill", "partition", "slow"), joined
// with "+", or "no fault". A partition that overlapped a logout counts
// even when the session came back after it healed: that is how stale
// replicas show.
func (r *Report) FaultContext(v Violation) string {
	o := &r.Ops[v.Op]
	from := o.Start
	if v.Cause >= 0 {
		from = min(from, r.Ops[v.Cause].Start)
	}
	if r.faults == nil {
		r.faults = []int{}
		for i := range r.Ops {
			if r.Ops[i].Kind == Fault {
				r.faults = append(r.faults, i)
			}
		}
	}
	kinds := map[string]bool{}
	for _, i := range r.faults {
		f := &r.Ops[i]
		if f.Start <= o.End && f.End >= from {
			kinds[strings.Fields(f.Note + " ?")[0]] = true
		}
	}
	if len(kinds) == 0 {
		return "no fault"
	}
	return strings.Join(slices.Sorted(maps.Keys(kinds)), "+")
}

// ByFault counts the violations of each invariant by FaultContext, as
// "invariant: context=count ..." lines, for telling which faults break
// what.
func (r *Report) ByFault() string {
	counts := map[Invariant]map[string]int{}
	for _, v := range r.Violations {
		if counts[v.Inv] == nil {
			counts[v.Inv] = map[string]int{}
		}
		counts[v.Inv][r.FaultContext(v)]++
	}
	var b strings.Builder
	for _, inv := range Invariants {
		if len(counts[inv]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:", inv)
		for _, ctx := range slices.Sorted(maps.Keys(counts[inv])) {
			fmt.Fprintf(&b, " %s=%d", ctx, counts[inv][ctx])
		}
		b.WriteString("\n")
	}
	return b.String()
}
