/* Minimal test harness: CHECK records a failure and goes on; each test file's main calls
 * its tests through RUN and ends with CHECK_DONE(), which prints "N passed, N failed". */
#ifndef FM_TEST_CHECK_H
#define FM_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failed_ = 0, check_passed_ = 0, check_test_failed_ = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
            check_test_failed_ = 1;                                                          \
        }                                                                                    \
    } while (0)

#define CHECKF(cond, ...)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            check_test_failed_ = 1;                                                          \
        }                                                                                    \
    } while (0)

#define RUN(test)                                                                            \
    do {                                                                                     \
        check_test_failed_ = 0;                                                              \
        test();                                                                              \
        if (check_test_failed_) {                                                            \
            check_failed_++;                                                                 \
            fprintf(stderr, "FAIL %s\n", #test);                                             \
        } else {                                                                             \
            check_passed_++;                                                                 \
            printf("ok   %s\n", #test);                                                      \
        }                                                                                    \
    } while (0)

#define CHECK_DONE()                                                                         \
    (printf("%d passed, %d failed\n", check_passed_, check_failed_), check_failed_ ? 1 : 0)

/* Path to the shared data folder (../shared/data beside the repo), or NULL when absent. */
static inline const char *check_shared_data(void)
{
    static char path[4096];
    const char *src = getenv("FM_SOURCE_DIR");
    const char *env = getenv("FM_SHARED_DATA");
    if (env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path, "%s/../shared/data", src ? src : ".");
    FILE *f;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/README.md", path);
    if (!(f = fopen(probe, "r")))
        return NULL;
    fclose(f);
    return path;
}
#endif
