/* log: levelled messages. Rank 0 prints pp_log(); pp_log_all() prints on every rank with a
 * "[rank r]" prefix (one line per rank, e.g. the device each rank uses). The level and the rank
 * are the only process-wide state in pinprick besides the error record. Messages at
 * PP_LOG_WARN and above go to stderr, the rest to stdout. */
#ifndef PP_LOG_H
#define PP_LOG_H

typedef enum { PP_LOG_QUIET = 0, PP_LOG_ERROR, PP_LOG_WARN, PP_LOG_INFO, PP_LOG_DEBUG } pp_log_level;

void pp_log_init(int rank, pp_log_level level);
pp_log_level pp_log_get_level(void);
void pp_log(pp_log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));
void pp_log_all(pp_log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
