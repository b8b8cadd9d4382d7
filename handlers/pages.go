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
	Notice         string // what went wrong with the whole submission, if anything did
}

// showForm is GET /f/:form: the hosted form, usable without JavaScript.
func (s *server) showForm(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	return s.renderForm(c, http.StatusOK, f, nil, nil, "", "")
}

// renderForm shows the hosted form: values filled in, problems per field,
// a notice about the whole submission, and idem as its key (a new one if "").
func (s *server) renderForm(c echo.Context, status int, f *forms.Form, values, problems map[string]string, idem, notice string) error {
	if idem == "" {
		// One key per rendered page: a double click or a resubmitted page
		// produces one lead, not two.
		idem = submission.NewID()
	}
	if values == nil {
		values = map[string]string{}
	}
	p := formPage{
		page: page{s.hashes}, Form: f, Fields: f.Fields, Values: values, Errors: problems,
		Action: "/f/" + url.PathEscape(f.ID), IdempotencyKey: idem, Notice: notice,
	}
	return s.render(c, status, "form.html", p)
}

// thanks is the hosted thank-you page after a plain HTML post.
func (s *server) thanks(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	id := c.QueryParam("id")
	if len(id) > 64 {
		id = ""
	}
	return s.render(c, http.StatusOK, "thanks.html", struct {
		page
		Form *forms.Form
		ID   string
	}{page{s.hashes}, f, id})
}

// home sends a visitor of the bare address to the first form (the demo form
// when no file is configured); with no form at all there is nothing to show.
func (s *server) home(c echo.Context) error {
	ids := s.Forms.IDs()
	if len(ids) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "No forms are configured.")
	}
	return c.Redirect(http.StatusFound, "/f/"+url.PathEscape(ids[0]))
}
