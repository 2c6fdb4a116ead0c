#!/bin/sh
# Job 1: mail the VIP list at once.
exec sh "$(dirname "$0")/send-mails.sh" vip "$(dirname "$0")/vip.txt"
