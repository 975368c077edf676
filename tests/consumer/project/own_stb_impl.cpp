// The consumer's own stb_image implementation, as a program that already uses stb has it.
#define STB_IMAGE_IMPLEMENTATION
#if __has_include(<stb_image.h>)
#include <stb_image.h>
#else
#include <stb/stb_image.h>
#endif
