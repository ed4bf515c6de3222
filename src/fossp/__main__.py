from fossp.cli.main import run

run()
