module sandboxprobe

go 1.22
