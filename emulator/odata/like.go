package odata

import "strings"

// Dataverse runs contains/startswith/endswith as SQL LIKE, so wildcards in
// the filterArg are live: % is any run, _ is one character, [abc] and [a-c] a
// set, [^abc] its complement. A '[' with no closing ']' stands for itself.
type likeElem struct {
	kind   byte // '%' any run, '_' one char, '[' set, 0 literal
	r      rune
	ranges [][2]rune
	negate bool
}

func compileLike(p string) []likeElem {
	rs := []rune(strings.ToLower(p))
	var elems []likeElem
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '%':
			if len(elems) == 0 || elems[len(elems)-1].kind != '%' {
				elems = append(elems, likeElem{kind: '%'})
			}
			continue
		case '_':
			elems = append(elems, likeElem{kind: '_'})
			continue
		case '[':
			if e, end, ok := compileSet(rs, i); ok {
				elems = append(elems, e)
				i = end
				continue
			}
		}
		elems = append(elems, likeElem{r: rs[i]})
	}
	return elems
}

// compileSet reads the set starting at rs[start] == '[' and returns the index
// of its closing ']'.
func compileSet(rs []rune, start int) (likeElem, int, bool) {
	e := likeElem{kind: '['}
	i := start + 1
	if i < len(rs) && rs[i] == '^' {
		e.negate = true
		i++
	}
	for ; i < len(rs); i++ {
		if rs[i] == ']' {
			return e, i, true
		}
		lo, hi := rs[i], rs[i]
		if i+2 < len(rs) && rs[i+1] == '-' && rs[i+2] != ']' {
			hi = rs[i+2]
			i += 2
		}
		e.ranges = append(e.ranges, [2]rune{lo, hi})
	}
	return likeElem{}, 0, false
}

func (e likeElem) matches(r rune) bool {
	switch e.kind {
	case '_':
		return true
	case '[':
		in := false
		for _, rg := range e.ranges {
			if r >= rg[0] && r <= rg[1] {
				in = true
				break
			}
		}
		return in != e.negate
	}
	return r == e.r
}

// likeMatch matches by dynamic programming over (pattern element, text
// position), so a pattern full of % costs O(len(p)·len(s)), never exponential.
func likeMatch(s, pattern string) bool {
	text := []rune(strings.ToLower(s))
	elems := compileLike(pattern)
	// Each element but % consumes a character, so a pattern with more of them
	// than the text has characters cannot match; checking first also bounds
	// the work a 64 KB pattern can cause to the size of the text.
	fixed := 0
	for _, e := range elems {
		if e.kind != '%' {
			fixed++
		}
	}
	if fixed > len(text) {
		return false
	}
	cur := make([]bool, len(text)+1)
	next := make([]bool, len(text)+1)
	cur[0] = true
	for _, e := range elems {
		clear(next)
		if e.kind == '%' {
			seen := false
			for i := range cur {
				seen = seen || cur[i]
				next[i] = seen
			}
		} else {
			for i, r := range text {
				next[i+1] = cur[i] && e.matches(r)
			}
		}
		cur, next = next, cur
	}
	return cur[len(text)]
}
