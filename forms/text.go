package forms

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Text is words a person reads, in one or more languages: language tag →
// text. The key "" is the form's own language (a plain string in the YAML
// file); Prepare files it under the form's language.
type Text map[string]string

// In returns the text in lang, else in lang's base language (de for de-CH),
// else in fallback, else in English, else in the first language by tag.
// "" when the text is empty.
func (t Text) In(lang, fallback string) string {
	if len(t) == 0 {
		return ""
	}
	for _, l := range []string{lang, baseLang(lang), fallback, "en", ""} {
		if s, ok := t[l]; ok {
			return s
		}
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return t[keys[0]]
}

// exact returns the text in lang or in lang's base language only.
func (t Text) exact(lang string) (string, bool) {
	if s, ok := t[lang]; ok && lang != "" {
		return s, true
	}
	s, ok := t[baseLang(lang)]
	return s, ok && lang != ""
}

// langTag is what a language key may be: a BCP 47 tag of a language and
// optional region or script ("en", "de", "pt-BR", "zh-Hant").
var langTag = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)

// ValidLanguage reports whether s can name a language of a form.
func ValidLanguage(s string) bool { return langTag.MatchString(s) }

func baseLang(l string) string {
	b, _, _ := strings.Cut(l, "-")
	return b
}

// prepareText files t's "" entry under lang and checks its keys; what is
// the path of t in errors.
func prepareText(t Text, lang, what string) (Text, error) {
	if len(t) == 0 {
		return t, nil
	}
	out := make(Text, len(t))
	for k, v := range t {
		if k == "" {
			k = lang
		} else if !ValidLanguage(k) {
			return nil, fmt.Errorf("%s: %q is not a language tag like en, de or pt-BR", what, k)
		}
		out[k] = v
	}
	return out, nil
}

// Languages are the languages the form can be shown in: its own language
// first, then every other language one of its texts is given in, sorted.
func (f *Form) Languages() []string { return f.languages }

// collectLanguages gathers the languages of every text of the form.
func (f *Form) collectLanguages() {
	seen := map[string]bool{f.Language: true}
	add := func(t Text) {
		for k := range t {
			seen[k] = true
		}
	}
	add(f.Titles)
	add(f.Intro)
	add(f.SubmitLabel)
	add(f.ThankYou)
	for _, m := range f.Messages {
		add(m)
	}
	if f.Consent != nil {
		add(f.Consent.Text)
	}
	for _, fd := range f.Fields {
		add(fd.Labels)
		add(fd.Help)
		add(fd.Placeholder)
		for _, o := range fd.Options {
			add(o.Label)
		}
	}
	delete(seen, "")
	var rest []string
	for l := range seen {
		if l != f.Language {
			rest = append(rest, l)
		}
	}
	slices.Sort(rest)
	f.languages = append([]string{f.Language}, rest...)
	tags := make([]language.Tag, len(f.languages))
	for i, l := range f.languages {
		tags[i] = language.Make(l)
	}
	f.matcher = language.NewMatcher(tags)
}

// maxLangParam bounds the ?lang= and Accept-Language text looked at: a
// header of kilobytes is not a preference, it is an attack on the parser.
const maxLangParam = 512

// PickLanguage chooses the language to show the form in: the one asked
// for (a ?lang= parameter, or a form's _lang field) when the form has it,
// else the best match for the visitor's Accept-Language, else the form's
// own language. The answer is always one of Languages, so it is safe to
// put in a page or a URL whatever the visitor sent.
func (f *Form) PickLanguage(asked, acceptLanguage string) string {
	if f.matcher == nil {
		return f.Language
	}
	if asked != "" && len(asked) <= 35 {
		for _, l := range f.languages {
			if strings.EqualFold(l, asked) {
				return l
			}
		}
		for _, l := range f.languages {
			if strings.EqualFold(l, baseLang(asked)) {
				return l
			}
		}
	}
	if acceptLanguage == "" || len(acceptLanguage) > maxLangParam {
		return f.Language
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return f.Language
	}
	_, i, conf := f.matcher.Match(tags...)
	if conf == language.No {
		return f.Language
	}
	return f.languages[i]
}
