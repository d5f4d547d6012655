package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"atrium/alertcel"
	"atrium/notify"
	"atrium/secret"
)

// notifyConfig is how the server delivers alerts.
type notifyConfig struct {
	allowCIDRs       []string
	smtpAddr         string
	smtpFrom         string
	smtpUser         string
	smtpPasswordFile string
}

func addNotifyFlags(f *pflag.FlagSet, c *notifyConfig) {
	var allow []string
	for _, s := range strings.Split(os.Getenv("ATRIUM_WEBHOOK_ALLOW_CIDR"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			allow = append(allow, s)
		}
	}
	f.StringArrayVar(&c.allowCIDRs, "webhook-allow-cidr", allow,
		"let webhook and chat targets reach this non-public range, e.g. 127.0.0.0/8 (repeatable; env ATRIUM_WEBHOOK_ALLOW_CIDR, comma-separated)")
	f.StringVar(&c.smtpAddr, "smtp-addr", envOr("ATRIUM_SMTP_ADDR", ""), "SMTP server host:port for email alerts; STARTTLS when offered (env ATRIUM_SMTP_ADDR)")
	f.StringVar(&c.smtpFrom, "smtp-from", envOr("ATRIUM_SMTP_FROM", ""), "sender address of email alerts (env ATRIUM_SMTP_FROM)")
	f.StringVar(&c.smtpUser, "smtp-user", envOr("ATRIUM_SMTP_USER", ""), "SMTP user, AUTH PLAIN over TLS (env ATRIUM_SMTP_USER)")
	f.StringVar(&c.smtpPasswordFile, "smtp-password-file", envOr("ATRIUM_SMTP_PASSWORD_FILE", ""), "file holding the SMTP password (env ATRIUM_SMTP_PASSWORD_FILE)")
}

// compileCEL adapts alertcel to the engine.
func compileCEL(expr string) (notify.Program, error) {
	p, err := alertcel.Compile(expr)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// engineConfig turns the flags into the engine's configuration.
func (c notifyConfig) engineConfig() (notify.Config, error) {
	allow, err := notify.ParseCIDRs(c.allowCIDRs)
	if err != nil {
		return notify.Config{}, fmt.Errorf("--webhook-allow-cidr: %w", err)
	}
	smtp := notify.SMTPConfig{Addr: c.smtpAddr, From: c.smtpFrom, User: c.smtpUser}
	if c.smtpPasswordFile != "" {
		b, err := os.ReadFile(c.smtpPasswordFile)
		if err != nil {
			return notify.Config{}, fmt.Errorf("--smtp-password-file: %w", err)
		}
		smtp.Password = strings.TrimRight(string(b), "\r\n")
	} else if p := os.Getenv("ATRIUM_SMTP_PASSWORD"); p != "" {
		smtp.Password = p
	}
	return notify.Config{AllowCIDRs: allow, SMTP: smtp, CompileCEL: compileCEL}, nil
}

// startNotify starts the alert matcher and delivery workers.
func startNotify(ctx context.Context, store notify.Store, box *secret.Box, reg prometheus.Registerer, c notifyConfig, logger *slog.Logger) (*notify.Engine, error) {
	cfg, err := c.engineConfig()
	if err != nil {
		return nil, err
	}
	cfg.Store, cfg.Box, cfg.Registry, cfg.Logger = store, box, reg, logger.With("service", "notify")
	e, err := notify.New(cfg)
	if err != nil {
		return nil, err
	}
	e.Start(ctx)
	logger.Info("alert delivery started", "allowCIDRs", cfg.AllowCIDRs, "smtp", cfg.SMTP.Addr != "")
	return e, nil
}
