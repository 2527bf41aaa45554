def membership(request):
    return {}
