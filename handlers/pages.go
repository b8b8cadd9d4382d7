package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

type formPage struct {
	page
	Form           *forms.Form
	Fields         []forms.Field // the template asks each for InputType, Autocomplete, Multiline, Required
	Values         map[string]string
	Errors         map[string]string
	Action         string
	IdempotencyKey string
}

// showForm is GET /f/:form: the hosted form, usable without JavaScript.
func (a *App) showForm(c echo.Context) error {
	f, err := a.form(c)
	if err != nil {
		return err
	}
	return a.renderForm(c, http.StatusOK, f, nil, nil, "")
}

func (a *App) renderForm(c echo.Context, status int, f *forms.Form, values, problems map[string]string, idem string) error {
	if idem == "" {
		// One key per rendered page: a double click or a resubmitted page
		// produces one lead, not two.
		idem = submission.NewID()
	}
	if values == nil {
		values = map[string]string{}
	}
	p := formPage{
		page: page{a.hashes}, Form: f, Fields: f.Fields, Values: values, Errors: problems,
		Action: "/f/" + url.PathEscape(f.ID), IdempotencyKey: idem,
	}
	return a.render(c, status, "form.html", p)
}

// thanks is the hosted thank-you page after a plain HTML post.
func (a *App) thanks(c echo.Context) error {
	f, err := a.form(c)
	if err != nil {
		return err
	}
	id := c.QueryParam("id")
	if len(id) > 64 {
		id = ""
	}
	return a.render(c, http.StatusOK, "thanks.html", struct {
		page
		Form *forms.Form
		ID   string
	}{page{a.hashes}, f, id})
}
