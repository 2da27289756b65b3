/* Unit tests of relay name rules: special names and their targets, names a
 * user may create, lock/placeholder paths, path join/basename/dirname. */
#include <glib.h>
#include <string.h>

#include "relay/names.h"

static void test_special(void)
{
	static const struct {
		const char *name;
		enum relay_special_kind kind;
		const char *target; /* NULL: regular, or special without one */
	} cases[] = {
	    {".x.lock", RELAY_NAME_LOCK, "x"},
	    {".x.placeholder", RELAY_NAME_PLACEHOLDER, "x"},
	    {".x.message", RELAY_NAME_MESSAGE, "x"},
	    {".x.abc.message", RELAY_NAME_MESSAGE, "x"},
	    {".x.mutex", RELAY_NAME_MUTEX, "x"},
	    {".a.txt.mutex", RELAY_NAME_MUTEX, "a.txt"},
	    {".a.txt.lock", RELAY_NAME_LOCK, "a.txt"},
	    {".a.txt.placeholder", RELAY_NAME_PLACEHOLDER, "a.txt"},
	    {".a.txt.1700000000.message", RELAY_NAME_MESSAGE, "a.txt"},
	    {"..hidden.lock", RELAY_NAME_LOCK, ".hidden"},
	    {".x.lock.lock", RELAY_NAME_LOCK, "x.lock"},
	    {".été.placeholder", RELAY_NAME_PLACEHOLDER, "été"},
	    {".my file.lock", RELAY_NAME_LOCK, "my file"},
	    {".lock", RELAY_NAME_LOCK, NULL},
	    {"..lock", RELAY_NAME_LOCK, NULL},
	    {".placeholder", RELAY_NAME_PLACEHOLDER, NULL},
	    {".message", RELAY_NAME_MESSAGE, NULL},
	    {"...lock", RELAY_NAME_LOCK, NULL},
	    {".x", RELAY_NAME_REGULAR, NULL},
	    {"x", RELAY_NAME_REGULAR, NULL},
	    {"x.lock", RELAY_NAME_REGULAR, NULL},
	    {"x.placeholder", RELAY_NAME_REGULAR, NULL},
	    {"a.lock.txt", RELAY_NAME_REGULAR, NULL},
	    {".x.lock.txt", RELAY_NAME_REGULAR, NULL},
	    {".xlock", RELAY_NAME_REGULAR, NULL},
	    {".hidden", RELAY_NAME_REGULAR, NULL},
	    {"", RELAY_NAME_REGULAR, NULL},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *target = (char *)"unset";
		enum relay_special_kind kind;

		g_test_message("name \"%s\"", cases[i].name);
		kind = relay_name_classify(cases[i].name, &target);
		g_assert_cmpint(kind, ==, cases[i].kind);
		g_assert_cmpstr(target, ==, cases[i].target);
		g_assert_cmpint(relay_name_is_special(cases[i].name), ==,
				cases[i].kind != RELAY_NAME_REGULAR);
		g_free(target);
		g_assert_cmpint(relay_name_classify(cases[i].name, NULL), ==,
				cases[i].kind);
	}
}

static void test_valid(void)
{
	static const struct {
		const char *name;
		bool valid;
	} cases[] = {
	    {"", false},
	    {".", false},
	    {"..", false},
	    {"a/b", false},
	    {"/", false},
	    {"a/", false},
	    {".x.lock", false},
	    {".x.placeholder", false},
	    {".x.message", false},
	    {".x.abc.message", false},
	    {".x.mutex", false},
	    {"x.mutex", true},
	    {".lock", false},
	    {"x", true},
	    {".hidden", true},
	    {"...", true},
	    {"100%", true},
	    {"été ☃.txt", true},
	    {"name with spaces", true},
	    {"x.lock", true},
	    {"a.lock.txt", true},
	    {"new\nline", false},
	    {"tab\there", false},
	    {"del\x7f", false},
	    {"bad\xff utf8", false},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("name \"%s\"", cases[i].name);
		g_assert_cmpint(relay_name_is_valid(cases[i].name), ==,
				cases[i].valid);
	}
}

static void test_sibling_paths(void)
{
	static const struct {
		const char *path;
		const char *lock;
		const char *placeholder;
		const char *mutex;
	} cases[] = {
	    {"x", ".x.lock", ".x.placeholder", ".x.mutex"},
	    {"dir/sub/x", "dir/sub/.x.lock", "dir/sub/.x.placeholder",
	     "dir/sub/.x.mutex"},
	    {"dir/a.txt", "dir/.a.txt.lock", "dir/.a.txt.placeholder",
	     "dir/.a.txt.mutex"},
	    {"d/.hidden", "d/..hidden.lock", "d/..hidden.placeholder",
	     "d/..hidden.mutex"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *lock = relay_lock_path(cases[i].path);
		char *placeholder = relay_placeholder_path(cases[i].path);
		char *mutex = relay_mutex_path(cases[i].path);

		g_assert_cmpstr(lock, ==, cases[i].lock);
		g_assert_cmpstr(placeholder, ==, cases[i].placeholder);
		g_assert_cmpstr(mutex, ==, cases[i].mutex);
		g_free(mutex);
		g_free(lock);
		g_free(placeholder);
	}
}

static void test_join(void)
{
	static const struct {
		const char *dir;
		const char *name;
		const char *path;
	} cases[] = {
	    {"", "x", "x"},	    {NULL, "x", "x"},
	    {"dir", "x", "dir/x"},  {"dir/sub", "x", "dir/sub/x"},
	    {"dir/", "x", "dir/x"}, {"dir", ".x.lock", "dir/.x.lock"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *path = relay_path_join(cases[i].dir, cases[i].name);

		g_assert_cmpstr(path, ==, cases[i].path);
		g_free(path);
	}
}

static void test_basename_dirname(void)
{
	static const struct {
		const char *path;
		const char *base;
		const char *dir;
	} cases[] = {
	    {"x", "x", ""},
	    {"dir/x", "x", "dir"},
	    {"dir/sub/x", "x", "dir/sub"},
	    {"dir/sub/.x.lock", ".x.lock", "dir/sub"},
	    {"/x", "x", "/"},
	    {"", "", ""},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *dir = relay_path_dirname(cases[i].path);
		const char *base = relay_path_basename(cases[i].path);
		char *joined;

		g_assert_cmpstr(base, ==, cases[i].base);
		g_assert_true(base >= cases[i].path &&
			      base <= cases[i].path + strlen(cases[i].path));
		g_assert_cmpstr(dir, ==, cases[i].dir);
		if (cases[i].path[0] != '\0') {
			joined = relay_path_join(dir, base);
			g_assert_cmpstr(joined, ==, cases[i].path);
			g_free(joined);
		}
		g_free(dir);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/names/special", test_special);
	g_test_add_func("/names/valid", test_valid);
	g_test_add_func("/names/sibling-paths", test_sibling_paths);
	g_test_add_func("/names/join", test_join);
	g_test_add_func("/names/basename-dirname", test_basename_dirname);
	return g_test_run();
}
