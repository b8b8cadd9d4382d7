package forms

import (
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// leadColumnMax is the maximum length Dataverse allows for the lead's text
// columns (shared/reference/dataverse.md §8), in UTF-16 code units as
// Dataverse counts them. A value longer than its column is refused at
// intake, so nothing that Dataverse would reject is queued.
var leadColumnMax = map[string]int{
	"subject": 300, "firstname": 50, "lastname": 50, "middlename": 50,
	"emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100,
	"telephone1": 50, "telephone2": 50, "telephone3": 50, "mobilephone": 20,
	"companyname": 100, "jobtitle": 100, "websiteurl": 200, "description": 2000,
	"address1_line1": 250, "address1_line2": 250, "address1_line3": 250,
	"address1_city": 80, "address1_stateorprovince": 50, "address1_postalcode": 20,
	"address1_country": 80, "address1_county": 50,
}

// Validator checks submitted values against a form's rules. One Validator is
// built at start-up and shared: validator v10 is safe for concurrent use once
// registration is over.
type Validator struct {
	v *validator.Validate
}

// NewValidator returns a Validator.
//
// Its max, min and len rules count a text's length as Dataverse and HTML's
// maxlength do, in UTF-16 code units (validator's own count runes): a rule
// written to match a column's limit then refuses what that column would,
// emoji included.
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	for tag, ok := range map[string]func(n, limit int) bool{
		"max": func(n, limit int) bool { return n <= limit },
		"min": func(n, limit int) bool { return n >= limit },
		"len": func(n, limit int) bool { return n == limit },
	} {
		if err := v.RegisterValidation(tag, lengthRule(ok)); err != nil {
			panic(err) // only for a tag validator reserves; these are not
		}
	}
	return &Validator{v: v}
}

// lengthRule is a max, min or len rule on a text's UTF-16 length. A
// parameter that is not a number panics, as validator's own rules do, so
// that checkRules refuses it at start-up.
func lengthRule(ok func(n, limit int) bool) validator.Func {
	return func(fl validator.FieldLevel) bool {
		limit, err := strconv.Atoi(fl.Param())
		if err != nil {
			panic(fmt.Sprintf("%s=%s: the parameter must be a whole number", fl.GetTag(), fl.Param()))
		}
		if fl.Field().Kind() != reflect.String {
			panic(fmt.Sprintf("%s: only text values are checked", fl.GetTag()))
		}
		return ok(utf16Len(fl.Field().String()), limit)
	}
}

// utf16Len is the length of s as Dataverse counts it: in UTF-16 code units,
// two for a character outside the Basic Multilingual Plane (most emoji).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// CutUTF16 returns s cut to at most n UTF-16 code units, never inside a
// character.
func CutUTF16(s string, n int) string {
	used := 0
	for i, r := range s {
		used += utf16.RuneLen(r)
		if used > n {
			return s[:i]
		}
	}
	return s
}

// twoUnitsNote explains a length refusal that emoji caused.
func twoUnitsNote(f *Form, lang, s string) string {
	if utf16Len(s) != utf8.RuneCountInString(s) {
		return f.Message(lang, MsgEmojiNote)
	}
	return ""
}

// checkRules reports whether a rules string is usable; validator panics on an
// unknown tag, which must surface as a configuration error, not at intake.
func (v *Validator) checkRules(rules string) (err error) {
	if rules == "" {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%q: %v", rules, r)
		}
	}()
	// Run the rules on an empty and a non-empty value: "required" or
	// "omitempty" stop early on "", hiding tags that panic on strings.
	_ = v.v.Var("", rules)
	_ = v.v.Var("x", rules)
	return nil
}

// Clean validates raw submitted values for form f, with messages in the
// form's own language; see CleanIn.
func (v *Validator) Clean(f *Form, raw map[string]string) (map[string]string, map[string]string) {
	return v.CleanIn(f, raw, f.Language)
}

// CleanIn validates raw submitted values for form f. It returns the
// normalized values of the form's fields (trimmed; values of email fields
// lower-cased; bools as "true" or "false"; a select's or radio's option
// value, also when the option's label was sent) and, when anything is
// wrong, a message per field name, in lang (see Form.Message). A hidden
// field with a fixed value always has that value, whatever raw says.
func (v *Validator) CleanIn(f *Form, raw map[string]string, lang string) (map[string]string, map[string]string) {
	clean := make(map[string]string, len(f.Fields))
	problems := map[string]string{}
	for _, fd := range f.Fields {
		val := strings.TrimSpace(raw[fd.Name])
		if fd.Control == ControlHidden && fd.Value != "" {
			val = fd.Value
		}
		if !utf8.ValidString(val) {
			problems[fd.Name] = f.Message(lang, MsgNotText)
			continue
		}
		if strings.ContainsRune(val, 0) {
			problems[fd.Name] = f.Message(lang, MsgNullChar)
			continue
		}
		if fd.Type == "bool" {
			b, ok := parseBool(val)
			if !ok {
				problems[fd.Name] = f.Message(lang, MsgYesNo)
				continue
			}
			if !b && fd.Required() {
				// For a checkbox, required means ticked (e.g. consent).
				problems[fd.Name] = f.Message(lang, MsgTicked)
				continue
			}
			val = fmt.Sprint(b)
		}
		if fd.Role == RoleEmail {
			val = strings.ToLower(val)
		}
		if len(fd.Options) > 0 && val != "" && fd.Kind != KindChoices {
			o, ok := fd.option(val)
			if !ok {
				problems[fd.Name] = f.Message(lang, MsgOption)
				continue
			}
			val = o
		}
		if k, ok := fd.cleanKind(val); !ok {
			kind := fd.Kind
			if fd.Lookup != nil {
				kind = fd.Lookup.KeyKind // number, decimal or guid: the key's
			}
			problems[fd.Name] = kindMessage(f, lang, kind)
			continue
		} else {
			val = k
		}
		if fd.Rules != "" {
			if err := v.v.Var(val, fd.Rules); err != nil {
				problems[fd.Name] = message(f, lang, err)
				continue
			}
		}
		if val != "" && (fd.Role == RoleEmail || fd.Control == ControlEmail) && !validEmail(val) {
			problems[fd.Name] = f.Message(lang, MsgEmail)
			continue
		}
		if max := fd.maxLength(); max > 0 && (fd.Kind == KindText || fd.Kind == KindLookup) && utf16Len(val) > max {
			problems[fd.Name] = f.Message(lang, MsgMax, strconv.Itoa(max)) + twoUnitsNote(f, lang, val)
			continue
		}
		if val != "" {
			clean[fd.Name] = val
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return clean, nil
}

// kindMessage is the refusal of a value that does not fit its column's kind.
func kindMessage(f *Form, lang, kind string) string {
	switch kind {
	case KindChoices:
		return f.Message(lang, MsgOption)
	case KindNumber, KindDecimal, KindMoney:
		return f.Message(lang, MsgNumeric)
	}
	return f.Message(lang, MsgInvalid, kind)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "", "0", "false", "off", "no", "n":
		return false, true
	case "1", "true", "on", "yes", "y", "checked":
		return true, true
	}
	return false, false
}

// message turns a validator error into words for the person filling the
// form, in lang.
func message(f *Form, lang string, err error) string {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return f.Message(lang, MsgInvalid, "?")
	}
	fe := ves[0]
	p := fe.Param()
	switch fe.Tag() {
	case "required":
		return f.Message(lang, MsgRequired)
	case "email":
		return f.Message(lang, MsgEmail)
	case "max":
		v, _ := fe.Value().(string)
		return f.Message(lang, MsgMax, p) + twoUnitsNote(f, lang, v)
	case "min":
		return f.Message(lang, MsgMin, p)
	case "len":
		return f.Message(lang, MsgLen, p)
	case "oneof":
		return f.Message(lang, MsgOneOf, strings.Join(strings.Fields(p), ", "))
	case "url", "http_url", "https_url", "uri":
		return f.Message(lang, MsgURL)
	case "e164":
		return f.Message(lang, MsgE164)
	case "numeric", "number":
		return f.Message(lang, MsgNumeric)
	case "alpha":
		return f.Message(lang, MsgAlpha)
	case "alphanum":
		return f.Message(lang, MsgAlphanum)
	case "boolean":
		return f.Message(lang, MsgYesNo)
	case "eq":
		return f.Message(lang, MsgEq, p)
	}
	return f.Message(lang, MsgInvalid, fe.Tag())
}

// validEmail guards email columns even when a form's rules forget "email":
// Dataverse would store anything, and a broken address is a lost lead.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
