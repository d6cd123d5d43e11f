from jobstream.cli import main

main(prog_name="jobstream")
