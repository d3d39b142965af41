/* placeholder, being written */ typedef int pp_placeholder_run_record;
