package odata

import "strings"

const (
	edmBoolean = "Edm.Boolean"
	edmString  = "Edm.String"
	edmGUID    = "Edm.Guid"
	edmValues  = "Collection(Edm.String)"
)

type filterParser struct {
	lx    queryLexer
	depth int
	// bindErr is the first type error met. OData parses the whole text before
	// it binds types, so a syntax error anywhere wins over a type error; the
	// parser records this one and reports it only once the text has parsed.
	bindErr error
	// alias looks up a parameter alias's text; nil when there are none.
	alias func(string) (string, bool)
	// colType gives a column's type from the schema; nil when unknown.
	colType func(string) string
}

func (p *filterParser) bindFail(err error) {
	if p.bindErr == nil {
		p.bindErr = err
	}
}

func (p *filterParser) enter() error {
	p.depth++
	if p.depth > maxFilterDepth {
		return errorf("The recursion limit has been exceeded.")
	}
	return nil
}

func (p *filterParser) leave() { p.depth-- }

func (p *filterParser) isKeyword(kw string) bool {
	return p.lx.tok.kind == tokIdent && p.lx.tok.text == kw
}

func (p *filterParser) parseExpression() (filterNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseLogical("or", p.parseAnd)
}

func (p *filterParser) parseAnd() (filterNode, error) {
	return p.parseLogical("and", p.parseComparison)
}

// parseLogical reads a chain of one operator into a flat node, so a long
// "a or b or c …" costs no recursion to evaluate.
func (p *filterParser) parseLogical(kw string, operand func() (filterNode, error)) (filterNode, error) {
	first, err := operand()
	if err != nil || !p.isKeyword(kw) {
		return first, err
	}
	opName := map[string]string{"and": "And", "or": "Or"}[kw]
	terms := []filterNode{first}
	for p.isKeyword(kw) {
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		n, err := operand()
		if err != nil {
			return nil, err
		}
		// Only operands of known type can be judged; a bare column may well be
		// a boolean one.
		l, r := terms[len(terms)-1].typ(), n.typ()
		if len(terms) > 1 {
			l = edmBoolean
		}
		if l != "" && r != "" && (l != edmBoolean || r != edmBoolean) {
			p.bindFail(incompatibleOperands(l, r, opName))
		}
		terms = append(terms, n)
	}
	return &logicNode{and: kw == "and", terms: terms}, nil
}

var comparisonOps = map[string]string{
	"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan",
	"ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual",
}

func (p *filterParser) parseComparison() (filterNode, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.lx.tok.kind == tokIdent && comparisonOps[p.lx.tok.text] != "" {
		op := p.lx.tok.text
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if err := checkComparable(left, right, comparisonOps[op]); err != nil {
			p.bindFail(err)
		}
		left = &compareNode{op: op, l: left, r: right}
	}
	return left, nil
}

func (p *filterParser) parseUnary() (filterNode, error) {
	switch {
	case p.isKeyword("not"):
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if t := x.typ(); t != "" && t != edmBoolean {
			p.bindFail(errorf("A unary operator with an incompatible type was detected. Found operand type '%s' for operator kind 'Not'.", t))
		}
		return &notNode{x: x}, nil
	case p.lx.tok.kind == tokMinus:
		minus := p.lx.tok
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		if p.lx.tok.kind == tokNumber { // "- 5": OData joins the sign to the number
			n := &literalNode{v: -p.lx.tok.num, edm: p.lx.tok.edm}
			return n, p.lx.next()
		}
		return nil, errorf("The emulator does not support arithmetic; '-' at position %d in '%s' must be part of a number.", p.lx.at(minus.start), p.lx.src)
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() (filterNode, error) {
	t := p.lx.tok
	var n filterNode
	switch t.kind {
	case tokIdent:
		switch t.text {
		case "true", "false":
			n = &literalNode{v: t.text == "true", edm: edmBoolean}
		case "null":
			n = &literalNode{v: nil, isNull: true}
		default:
			if name, ok := p.lx.functionName(); ok {
				return p.parseFunction(name)
			}
			if typ, ok := p.lx.enumTypeName(); ok {
				return p.parseEnumLiteral(typ)
			}
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			// A path (sdkmessageid/name, RequiredLevel/Value) is one column
			// to the caller, which decides whether it exists.
			name := t.text
			for p.lx.tok.kind == tokSlash {
				if err := p.lx.next(); err != nil {
					return nil, err
				}
				if p.lx.tok.kind != tokIdent {
					return nil, p.lx.syntaxError()
				}
				name += "/" + p.lx.tok.text
				if err := p.lx.next(); err != nil {
					return nil, err
				}
			}
			n := &columnNode{name: name}
			if p.colType != nil {
				n.edm = p.colType(name)
			}
			return n, nil
		}
	case tokOpenParen:
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		inner, err := p.parseExpression()
		if err != nil {
			return nil, err
		}
		if p.lx.tok.kind != tokCloseParen {
			return nil, errorf("')' or operator expected at position %d in '%s'.", p.lx.at(p.lx.tok.start), p.lx.src)
		}
		return inner, p.lx.next()
	case tokString:
		n = &literalNode{v: t.str, edm: edmString}
	case tokNumber:
		n = &literalNode{v: t.num, edm: t.edm}
	case tokGUID:
		n = &literalNode{v: strings.ToLower(t.text), edm: edmGUID}
	case tokDate:
		n = &literalNode{v: t.tm, edm: "Edm.Date"}
	case tokDateTime:
		n = &literalNode{v: t.tm, edm: "Edm.DateTimeOffset"}
	case tokBracket, tokBrace:
		n = &valuesNode{raw: t.text}
	case tokTyped:
		return nil, errorf("Unrecognized literal '%s' at position %d in '%s'.", t.text, p.lx.at(t.start), p.lx.src)
	case tokAlias:
		return p.parseAlias(t.text)
	default:
		return nil, p.lx.expressionExpected()
	}
	return n, p.lx.next()
}

// parseAlias stands the value of a parameter alias in for it.
func (p *filterParser) parseAlias(name string) (filterNode, error) {
	if p.alias == nil {
		return nil, errorf("The emulator does not support parameter aliases such as '%s' here; put the value in the $filter itself.", name)
	}
	text, ok := p.alias(name)
	if err := p.lx.next(); err != nil {
		return nil, err
	}
	if !ok {
		return &literalNode{v: nil, isNull: true}, nil
	}
	if strings.HasPrefix(text, "[") || strings.HasPrefix(text, "{") {
		return &valuesNode{raw: text}, nil
	}
	// An alias's value may not name aliases itself, which also ends any
	// cycle.
	return parseNode(text, nil, p.colType, p.depth+1)
}

// parseEnumLiteral reads Namespace.Type'Member', an enumeration value such
// as Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist': a string typed as
// the enumeration, compared with a column's member name.
func (p *filterParser) parseEnumLiteral(typ string) (filterNode, error) {
	start := p.lx.pos
	end, err := p.lx.scanQuoted(start, "There is an unterminated literal at position %d in '%s'.")
	if err != nil {
		return nil, err
	}
	member := strings.ReplaceAll(p.lx.src[start+1:end-1], "''", "'")
	p.lx.pos = end
	return &literalNode{v: member, edm: typ}, p.lx.next()
}

type filterArg struct {
	name string // set for Name=value arguments
	val  filterNode
}

func (p *filterParser) parseFunction(name string) (filterNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.lx.next(); err != nil { // the '('
		return nil, err
	}
	if err := p.lx.next(); err != nil {
		return nil, err
	}
	var args []filterArg
	if p.lx.tok.kind == tokCloseParen {
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		return p.bind(name, args), nil
	}
	for {
		var arg filterArg
		if p.lx.tok.kind == tokIdent && p.lx.peekByteSkippingSpace() == '=' {
			arg.name = p.lx.tok.text
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			if err := p.lx.next(); err != nil { // the '='
				return nil, err
			}
		}
		v, err := p.parseExpression()
		if err != nil {
			return nil, err
		}
		arg.val = v
		args = append(args, arg)
		switch p.lx.tok.kind {
		case tokComma:
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			continue
		case tokCloseParen:
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			return p.bind(name, args), nil
		}
		return nil, errorf("')' or ',' expected at position %d in '%s'.", p.lx.at(p.lx.tok.start), p.lx.src)
	}
}

func (l *queryLexer) peekByteSkippingSpace() byte {
	i := l.tok.end
	for i < len(l.src) && (l.src[i] == ' ' || l.src[i] == '\t') {
		i++
	}
	return l.peekByte(i)
}

// ---- binding: the checks Dataverse makes once it knows operand types ----

func incompatibleOperands(l, r, op string) error {
	return errorf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", l, r, op)
}

func typeFamily(t string) string {
	switch t {
	case "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double", "Edm.Single":
		return "number"
	case "Edm.Date", "Edm.DateTimeOffset":
		return "time"
	}
	return t
}

// checkComparable refuses what the OData binder refuses. Without a schema the
// emulator knows only literal types and lookups (_x_value columns are GUIDs),
// which is enough to catch the common client bug of quoting a GUID.
func checkComparable(l, r filterNode, op string) error {
	for _, n := range []filterNode{l, r} {
		if _, ok := n.(*valuesNode); ok {
			return errorf("An array such as %s can only be the PropertyValues of a Dataverse query function such as Microsoft.Dynamics.CRM.In.", n.(*valuesNode).raw)
		}
	}
	lt, rt := l.typ(), r.typ()
	if lt == "" || rt == "" || typeFamily(lt) == typeFamily(rt) {
		return nil
	}
	return incompatibleOperands(lt, rt, op)
}

var likeFunctions = map[string]string{
	"contains": "%%%s%%", "startswith": "%s%%", "endswith": "%%%s",
}

// bind resolves a parsed call; on failure it records the error and stands in
// an untyped node so parsing can go on to find any syntax error.
func (p *filterParser) bind(name string, args []filterArg) filterNode {
	n, err := bindFunction(name, args)
	if err != nil {
		p.bindFail(err)
		return &literalNode{}
	}
	return n
}

func bindFunction(name string, args []filterArg) (filterNode, error) {
	if wrap, ok := likeFunctions[name]; ok {
		if len(args) != 2 || args[0].name != "" || args[1].name != "" ||
			!stringish(args[0].val) || !stringish(args[1].val) {
			return nil, errorf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", name, name)
		}
		return &likeNode{wrap: wrap, s: args[0].val, pattern: args[1].val}, nil
	}
	const ns = "Microsoft.Dynamics.CRM."
	switch name {
	case ns + "In", ns + "NotIn", ns + "Between", ns + "NotBetween":
		col, values, err := bindPropertyArgs(name, args)
		if err != nil {
			return nil, err
		}
		short := strings.TrimPrefix(name, ns)
		if strings.HasSuffix(short, "Between") {
			if len(values) != 2 {
				return nil, errorf("%s needs exactly two PropertyValues, got %d.", name, len(values))
			}
			return &betweenNode{col: col, lo: values[0], hi: values[1], negate: short == "NotBetween"}, nil
		}
		return &inNode{col: col, values: values, negate: short == "NotIn"}, nil
	}
	return nil, errorf("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", name)
}

func stringish(n filterNode) bool {
	t := n.typ()
	return t == "" || t == edmString
}

// bindPropertyArgs reads the (PropertyName='col',PropertyValues=[…]) arguments
// every Dataverse range and set function takes.
func bindPropertyArgs(name string, args []filterArg) (string, []any, error) {
	var col string
	var values []any
	var haveCol, haveValues bool
	for _, a := range args {
		switch a.name {
		case "PropertyName":
			lit, ok := a.val.(*literalNode)
			s, isStr := lit.stringValue()
			if !ok || !isStr || lit.edm != edmString {
				return "", nil, errorf("PropertyName of %s must be a quoted column name, such as PropertyName='lastname'.", name)
			}
			col, haveCol = s, true
		case "PropertyValues":
			vn, ok := a.val.(*valuesNode)
			if !ok || !strings.HasPrefix(vn.raw, "[") {
				return "", nil, errorf("PropertyValues of %s must be an array, such as PropertyValues=['a','b'].", name)
			}
			vs, err := parseJSONArray(vn.raw)
			if err != nil {
				return "", nil, err
			}
			values, haveValues = vs, true
		default:
			return "", nil, errorf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(PropertyName=Edm.String, PropertyValues=Collection(Edm.String)).", name, name)
		}
	}
	if !haveCol || !haveValues {
		return "", nil, errorf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(PropertyName=Edm.String, PropertyValues=Collection(Edm.String)).", name, name)
	}
	return col, values, nil
}
