"""Git: the runner of git commands, the lines and files a change touched, and the files
whose result depends on them (--changed-since)."""
