package config_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/leadbridge/leadbridge/config"
)

func TestAdminConsoleIsOffUntilConfigured(t *testing.T) {
	c, err := config.LoadAPI(env(nil))
	if err != nil || c.Admin.Enabled() {
		t.Fatalf("empty environment: enabled %v, %v; want the console off", c.Admin.Enabled(), err)
	}
	c, err = config.LoadAPI(env(map[string]string{"LEADBRIDGE_ADMIN_USER": "admin", "LEADBRIDGE_ADMIN_PASSWORD": "correct horse battery"}))
	if err != nil || !c.Admin.Enabled() || c.Admin.Password != "correct horse battery" {
		t.Fatalf("user and password: %+v, %v", c.Admin, err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	c, err = config.LoadAPI(env(map[string]string{"LEADBRIDGE_ADMIN_USER": "admin", "LEADBRIDGE_ADMIN_PASSWORD_HASH": string(hash)}))
	if err != nil || string(c.Admin.PasswordHash) != string(hash) {
		t.Fatalf("user and hash: %+v, %v", c.Admin, err)
	}
	c, err = config.LoadAPI(env(map[string]string{
		"LEADBRIDGE_ADMIN_OIDC_CLIENT_ID": "cid", "LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET": "secret",
		"AZURE_TENANT_ID": "tenant", "LEADBRIDGE_ADMIN_OIDC_ALLOWED": "ann@contoso.com, group:1234",
	}))
	if err != nil || !c.Admin.Enabled() || c.Admin.OIDC.AuthorityHost != "https://login.microsoftonline.com" || len(c.Admin.OIDC.Allowed) != 2 {
		t.Fatalf("Entra ID only: %+v, %v", c.Admin.OIDC, err)
	}
}

func TestAdminSettingsRefusedNamingTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LEADBRIDGE_ADMIN_USER": "admin"}, "LEADBRIDGE_ADMIN_PASSWORD: required"},
		{map[string]string{"LEADBRIDGE_ADMIN_PASSWORD": "correct horse battery"}, "LEADBRIDGE_ADMIN_USER: required"},
		{map[string]string{"LEADBRIDGE_ADMIN_USER": "admin", "LEADBRIDGE_ADMIN_PASSWORD": "short"}, "LEADBRIDGE_ADMIN_PASSWORD: use at least 12"},
		{map[string]string{"LEADBRIDGE_ADMIN_USER": "admin", "LEADBRIDGE_ADMIN_PASSWORD_HASH": "plain-text"}, "LEADBRIDGE_ADMIN_PASSWORD_HASH: not a bcrypt hash"},
		{map[string]string{"LEADBRIDGE_ADMIN_USER": "admin", "LEADBRIDGE_ADMIN_PASSWORD": "correct horse battery", "LEADBRIDGE_ADMIN_PASSWORD_HASH": "$2a$10$x"}, "set one, not both"},
		{map[string]string{"LEADBRIDGE_PUBLIC_URL": "leads.example.com"}, "LEADBRIDGE_PUBLIC_URL"},
		{map[string]string{"LEADBRIDGE_ADMIN_OIDC_CLIENT_ID": "cid"}, "LEADBRIDGE_ADMIN_OIDC_CLIENT_SECRET: required"},
		{map[string]string{"LEADBRIDGE_ADMIN_OIDC_CLIENT_ID": "cid"}, "AZURE_TENANT_ID: required"},
		{map[string]string{"LEADBRIDGE_ADMIN_OIDC_CLIENT_ID": "cid"}, "LEADBRIDGE_ADMIN_OIDC_ALLOWED: required"},
		{map[string]string{"LEADBRIDGE_ADMIN_OIDC_CLIENT_ID": "cid", "AZURE_AUTHORITY_HOST": "http://login.example.com"}, "AZURE_AUTHORITY_HOST"},
		{map[string]string{"LEADBRIDGE_ADMIN_OIDC_ALLOWED": "*"}, "LEADBRIDGE_ADMIN_OIDC_CLIENT_ID: required"},
	}
	for _, tt := range tests {
		_, err := config.LoadAPI(env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error saying %q", tt.env, err, tt.want)
		}
	}
}

func TestAlertSettings(t *testing.T) {
	c, err := config.LoadWorker(env(map[string]string{
		"LEADBRIDGE_ALERT_WEBHOOK_URL": "https://hooks.example.com/T/B/x", "LEADBRIDGE_ALERT_SMTP_ADDR": "smtp.example.com:587",
		"LEADBRIDGE_ALERT_EMAIL_FROM": "leadbridge@example.com", "LEADBRIDGE_ALERT_EMAIL_TO": "ops@example.com, crm@example.com",
		"LEADBRIDGE_ALERT_EVERY": "30m",
	}))
	if err != nil || c.Alerts.Every != 30*time.Minute || len(c.Alerts.To) != 2 {
		t.Fatalf("alerts: %+v, %v", c.Alerts, err)
	}
	if c, _ := config.LoadWorker(env(nil)); c.Alerts.Every != 15*time.Minute || c.Alerts.WebhookURL != "" {
		t.Errorf("default alerts: %+v, want none, every 15m", c.Alerts)
	}
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LEADBRIDGE_ALERT_WEBHOOK_URL": "ftp://x?token=secret"}, "LEADBRIDGE_ALERT_WEBHOOK_URL"},
		{map[string]string{"LEADBRIDGE_ALERT_SMTP_ADDR": "smtp.example.com"}, "LEADBRIDGE_ALERT_SMTP_ADDR"},
		{map[string]string{"LEADBRIDGE_ALERT_SMTP_ADDR": "smtp.example.com:25"}, "LEADBRIDGE_ALERT_EMAIL_FROM"},
		{map[string]string{"LEADBRIDGE_ALERT_SMTP_ADDR": "smtp.example.com:25"}, "LEADBRIDGE_ALERT_EMAIL_TO"},
		{map[string]string{"LEADBRIDGE_ALERT_EMAIL_TO": "ops@example.com"}, "LEADBRIDGE_ALERT_SMTP_ADDR: required"},
		{map[string]string{"LEADBRIDGE_ALERT_EVERY": "10s"}, "LEADBRIDGE_ALERT_EVERY"},
	}
	for _, tt := range tests {
		_, err := config.LoadWorker(env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error saying %q", tt.env, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error repeats the webhook URL's token: %v", err)
		}
	}
}
