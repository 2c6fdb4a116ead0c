#!/bin/sh
# Job 2: mail everyone else (warden starts it after a delay, holding its slot meanwhile).
exec sh "$(dirname "$0")/send-mails.sh" everyone "$(dirname "$0")/everyone.txt"
